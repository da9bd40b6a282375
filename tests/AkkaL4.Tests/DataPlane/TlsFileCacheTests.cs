using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// <see cref="TlsOrigination.Load"/> on its own: how often an unreadable file is logged, and when changed files are read
/// again (each read says so in the log, once). Real PEM files, no sockets.
/// </summary>
[Trait("Category", "Unit")]
public sealed class TlsFileCacheTests
{
    /// <summary>Error and info lines written, in order.</summary>
    private sealed class Recording() : LoggingAdapterBase(DefaultLogMessageFormatter.Instance)
    {
        public List<string> Errors { get; } = [];
        public List<string> Infos { get; } = [];

        /// <summary>How many times the files of <paramref name="fields"/> were read.</summary>
        public int Reads(string fields)
        {
            lock (Infos) return Infos.Count(line => line.Contains($" {fields}: read (modified ", StringComparison.Ordinal));
        }

        public override bool IsDebugEnabled => true;
        public override bool IsInfoEnabled => true;
        public override bool IsWarningEnabled => true;
        public override bool IsErrorEnabled => true;

        protected override void NotifyLog(LogLevel level, object message, Exception? cause)
        {
            if (level == LogLevel.ErrorLevel) lock (Errors) Errors.Add(message.ToString() ?? "");
            if (level == LogLevel.InfoLevel) lock (Infos) Infos.Add(message.ToString() ?? "");
        }
    }

    private static UpstreamTls Mutual(TestCa ca, string certificate, string key) =>
        new("MUTUAL", ca.CaFile, certificate, key, null, Seq<string>.Empty, false) { Rules = "DestinationRule/default/cache" };

    /// <summary>Writes a new pair over <paramref name="files"/>, then puts back the modification time of the one named by <paramref name="keepTimeOf"/>.</summary>
    private static X509Certificate2 Rotate(TestCa ca, (string Certificate, string Key) files, string keepTimeOf)
    {
        var kept = File.GetLastWriteTimeUtc(keepTimeOf);
        var issued = ca.Issue("rotated");
        var (certificate, key) = ca.WritePem(issued, "client");
        Assert.Equal(files, (certificate, key));
        // Later than anything before, whatever the file system's clock granularity.
        File.SetLastWriteTimeUtc(keepTimeOf == files.Certificate ? key : certificate, kept.AddSeconds(10 + Random.Shared.Next(1000)));
        File.SetLastWriteTimeUtc(keepTimeOf, kept);
        return issued;
    }

    [Fact]
    public void Replacing_the_key_file_alone_or_the_certificate_file_alone_is_seen()
    {
        using var ca = new TestCa("akkal4 cache CA");
        var log = new Recording();
        var files = ca.WritePem(ca.Issue("first"), "client");
        var tls = Mutual(ca, files.Certificate, files.Key);
        Assert.Equal("CN=first", TlsOrigination.Load(tls, log).Client!.Subject);

        // Only the key file's time moved (a pair put in place with the certificate's time kept, cp -p style).
        var second = Rotate(ca, files, keepTimeOf: files.Certificate);
        Assert.Equal(second.Thumbprint, TlsOrigination.Load(tls, log).Client!.Thumbprint);

        var third = Rotate(ca, files, keepTimeOf: files.Key);
        Assert.Equal(third.Thumbprint, TlsOrigination.Load(tls, log).Client!.Thumbprint);
        var fields = $"tls.clientCertificate {files.Certificate} / tls.privateKey {files.Key}";
        Assert.Equal(3, log.Reads(fields));
    }

    [Fact]
    public void A_rotation_by_symlink_swap_as_a_Kubernetes_Secret_volume_does_it_is_seen()
    {
        // The Secret volume layout: files in a timestamped directory, ..data -> it, and each file a link through ..data.
        // A rotation writes a new directory and swaps ..data; the per-file links keep their own (old) times.
        using var ca = new TestCa("akkal4 symlink CA");
        var log = new Recording();
        X509Certificate2 Publish(string version, string commonName)
        {
            Directory.CreateDirectory(Path.Combine(ca.Directory, version));
            var issued = ca.Issue(commonName);
            var (certificate, key) = ca.WritePem(issued, $"{version}/client");
            File.Copy(ca.CaFile, Path.Combine(ca.Directory, version, "ca.pem"));
            // Later than anything before, whatever the file system's clock granularity.
            var later = DateTime.UtcNow.AddMinutes(version == "..2026_a" ? 1 : 10);
            foreach (var file in new[] { certificate, key, Path.Combine(ca.Directory, version, "ca.pem") }) File.SetLastWriteTimeUtc(file, later);
            var data = Path.Combine(ca.Directory, "..data");
            if (File.Exists(data) || Directory.Exists(data)) File.Delete(data);
            Directory.CreateSymbolicLink(data, version);
            return issued;
        }
        var first = Publish("..2026_a", "first");
        var (linkedCertificate, linkedKey, linkedCa) = (Path.Combine(ca.Directory, "client.pem"), Path.Combine(ca.Directory, "client-key.pem"),
            Path.Combine(ca.Directory, "linked-ca.pem"));
        File.CreateSymbolicLink(linkedCertificate, "..data/client.pem");
        File.CreateSymbolicLink(linkedKey, "..data/client-key.pem");
        File.CreateSymbolicLink(linkedCa, "..data/ca.pem");
        var tls = Mutual(ca, linkedCertificate, linkedKey) with { CaCertificates = linkedCa };
        var before = TlsOrigination.Load(tls, log);
        Assert.Equal(first.Thumbprint, before.Client!.Thumbprint);

        var second = Publish("..2026_b", "second");
        var after = TlsOrigination.Load(tls, log);
        Assert.Equal(second.Thumbprint, after.Client!.Thumbprint);
        Assert.NotSame(before.Authorities, after.Authorities);
        Assert.Equal(2, log.Reads($"tls.clientCertificate {linkedCertificate} / tls.privateKey {linkedKey}"));
        Assert.Equal(2, log.Reads($"tls.caCertificates {linkedCa}"));
    }

    [Fact]
    public async Task A_burst_of_connections_after_a_rotation_reads_the_files_once_and_lets_the_old_ones_go()
    {
        using var ca = new TestCa("akkal4 burst CA");
        var log = new Recording();
        var files = ca.WritePem(ca.Issue("before"), "client");
        var tls = Mutual(ca, files.Certificate, files.Key);
        var before = Loaded(tls, log);

        var after = Rotate(ca, files, keepTimeOf: files.Certificate);
        File.WriteAllText(ca.CaFile, File.ReadAllText(ca.CaFile));
        File.SetLastWriteTimeUtc(ca.CaFile, DateTime.UtcNow.AddMinutes(5));
        using var start = new Barrier(16);
        var burst = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait();
            return TlsOrigination.Load(tls, log);
        }, TaskCreationOptions.LongRunning)));

        Assert.All(burst, files => Assert.Equal(after.Thumbprint, files.Client!.Thumbprint));
        Assert.Single(burst.Select(f => f.Client).Distinct());
        Assert.Single(burst.Select(f => f.Authorities).Distinct());
        Assert.Equal(2, log.Reads($"tls.clientCertificate {files.Certificate} / tls.privateKey {files.Key}"));
        Assert.Equal(2, log.Reads($"tls.caCertificates {ca.CaFile}"));
        // The superseded certificate and CA bundle are no longer held by the cache: left to the GC (a handshake may still use them).
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.False(before.Client.IsAlive, "the superseded client certificate is still referenced");
        Assert.False(before.Authorities.IsAlive, "the superseded CA bundle is still referenced");
    }

    /// <summary>Loads once; only weak references to what came back, so the caller holds nothing.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (WeakReference Client, WeakReference Authorities) Loaded(UpstreamTls tls, Recording log)
    {
        var files = TlsOrigination.Load(tls, log);
        return (new WeakReference(files.Client), new WeakReference(files.Authorities));
    }

    [Fact]
    public void Two_rules_sharing_an_unreadable_CA_file_log_it_once_each_not_once_per_connection()
    {
        var ca = Path.Combine(Path.GetTempPath(), $"akkal4-shared-ca-{Guid.NewGuid():N}.pem");
        UpstreamTls Rule(string name) => new("SIMPLE", ca, null, null, null, Seq<string>.Empty, false) { Rules = name };
        var log = new Recording();
        for (var i = 0; i < 10; i++)
        {
            Assert.Throws<UpstreamTlsConfigurationException>(() => TlsOrigination.Load(Rule("DestinationRule/default/a"), log));
            Assert.Throws<UpstreamTlsConfigurationException>(() => TlsOrigination.Load(Rule("DestinationRule/default/b"), log));
        }
        Assert.Equal(2, log.Errors.Count);
        Assert.Single(log.Errors, e => e.StartsWith("DestinationRule/default/a ", StringComparison.Ordinal));
        Assert.Single(log.Errors, e => e.StartsWith("DestinationRule/default/b ", StringComparison.Ordinal));
    }
}
