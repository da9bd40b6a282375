using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// <see cref="TlsOrigination.LoadAsync"/> on its own: how often an unreadable file is logged, when changed files are read
/// again (each read says so in the log, once; within <see cref="TlsOrigination.RecheckEvery"/>, off the caller's path),
/// and when files no configuration names any more are let go. Real PEM files, no sockets, but waits of a check's interval
/// (hence not Unit).
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class TlsFileCacheTests
{
    /// <summary>The files of <paramref name="tls"/>, waited for (a test's thread may block).</summary>
    private static TlsFiles Load(UpstreamTls tls, ILoggingAdapter log) => TlsOrigination.LoadAsync(tls, log, TimeSpan.FromSeconds(30)).AsTask().GetAwaiter().GetResult();

    /// <summary>Error and info lines written, in order.</summary>
    private sealed class Recording() : LoggingAdapterBase(DefaultLogMessageFormatter.Instance)
    {
        public List<string> Errors { get; } = [];
        public List<string> Infos { get; } = [];
        public List<string> Warnings { get; } = [];
        public List<string> Debugs { get; } = [];

        /// <summary>How many debug lines contain <paramref name="text"/>.</summary>
        public int DebugsWith(string text)
        {
            lock (Debugs) return Debugs.Count(line => line.Contains(text, StringComparison.Ordinal));
        }

        /// <summary>How many warnings contain <paramref name="text"/>.</summary>
        public int WarningsWith(string text)
        {
            lock (Warnings) return Warnings.Count(line => line.Contains(text, StringComparison.Ordinal));
        }

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
            if (level == LogLevel.WarningLevel) lock (Warnings) Warnings.Add(message.ToString() ?? "");
            if (level == LogLevel.DebugLevel) lock (Debugs) Debugs.Add(message.ToString() ?? "");
        }
    }

    /// <summary>
    /// A node's configuration naming <paramref name="named"/> while the test runs: other tests' nodes, changing their own
    /// configurations meanwhile, drop what no node names (<see cref="TlsOrigination.InForce"/>).
    /// </summary>
    private sealed class InForce : IDisposable
    {
        public InForce(params UpstreamTls[] named) => Name(named);

        public void Name(params UpstreamTls[] named) => TlsOrigination.InForce(this, named);

        public void Dispose() => TlsOrigination.InForce(this, null);
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

    /// <summary>Loads until the client certificate is <paramref name="expected"/>: a changed file is seen within a check, not at once.</summary>
    private static Task Presents(UpstreamTls tls, ILoggingAdapter log, X509Certificate2 expected) =>
        EventuallyAsync(() => Load(tls, log).Client!.Thumbprint == expected.Thumbprint, $"the client certificate {expected.Subject} is presented",
            TlsOrigination.RecheckEvery + Patience);

    [Fact]
    public async Task Replacing_the_key_file_alone_or_the_certificate_file_alone_is_seen()
    {
        using var ca = new TestCa("akkal4 cache CA");
        var log = new Recording();
        var files = ca.WritePem(ca.Issue("first"), "client");
        var tls = Mutual(ca, files.Certificate, files.Key);
        using var inForce = new InForce(tls);
        Assert.Equal("CN=first", Load(tls, log).Client!.Subject);

        // Only the key file's time moved (a pair put in place with the certificate's time kept, cp -p style).
        var second = Rotate(ca, files, keepTimeOf: files.Certificate);
        await Presents(tls, log, second);

        var third = Rotate(ca, files, keepTimeOf: files.Key);
        await Presents(tls, log, third);
        var fields = $"tls.clientCertificate {files.Certificate} / tls.privateKey {files.Key}";
        Assert.Equal(3, log.Reads(fields));
    }

    [Fact]
    public async Task A_rotation_by_symlink_swap_as_a_Kubernetes_Secret_volume_does_it_is_seen()
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
        using var inForce = new InForce(tls);
        var before = Load(tls, log);
        Assert.Equal(first.Thumbprint, before.Client!.Thumbprint);

        var second = Publish("..2026_b", "second");
        await Presents(tls, log, second);
        await EventuallyAsync(() => !ReferenceEquals(before.Authorities, Load(tls, log).Authorities), "the CA bundle is read again",
            TlsOrigination.RecheckEvery + Patience);
        Assert.Equal(2, log.Reads($"tls.clientCertificate {linkedCertificate} / tls.privateKey {linkedKey}"));
        Assert.Equal(2, log.Reads($"tls.caCertificates {linkedCa}"));
    }

    [Fact]
    public async Task A_burst_of_connections_reads_the_files_once_and_a_rotation_lets_the_old_ones_go()
    {
        using var ca = new TestCa("akkal4 burst CA");
        var log = new Recording();
        var files = ca.WritePem(ca.Issue("before"), "client");
        var tls = Mutual(ca, files.Certificate, files.Key);
        using var inForce = new InForce(tls);
        var clientFields = $"tls.clientCertificate {files.Certificate} / tls.privateKey {files.Key}";
        var before = Burst(tls, log);
        Assert.Equal((1, 1), (before.Clients, before.Bundles));
        Assert.Equal(1, log.Reads(clientFields));
        Assert.Equal(1, log.Reads($"tls.caCertificates {ca.CaFile}"));

        var after = Rotate(ca, files, keepTimeOf: files.Certificate);
        File.WriteAllText(ca.CaFile, File.ReadAllText(ca.CaFile));
        File.SetLastWriteTimeUtc(ca.CaFile, DateTime.UtcNow.AddMinutes(5));
        await Presents(tls, log, after);
        await EventuallyAsync(() =>
        {
            Load(tls, log);
            return log.Reads($"tls.caCertificates {ca.CaFile}") == 2;
        }, "the CA bundle is read again", TlsOrigination.RecheckEvery + Patience);

        Assert.Equal(2, log.Reads(clientFields));
        Assert.Equal(2, log.Reads($"tls.caCertificates {ca.CaFile}"));
        // The superseded certificate and CA bundle are no longer held by the cache: left to the GC (a handshake may still use them).
        Collect();
        Assert.False(before.Client.IsAlive, "the superseded client certificate is still referenced");
        Assert.False(before.Authorities.IsAlive, "the superseded CA bundle is still referenced");
    }

    /// <summary>16 loads at once of files not read yet; weak references to what the first got, and how many distinct copies all got.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (WeakReference Client, WeakReference Authorities, int Clients, int Bundles) Burst(UpstreamTls tls, Recording log)
    {
        using var start = new Barrier(16);
        var burst = Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait();
            return Load(tls, log);
        }, TaskCreationOptions.LongRunning))).GetAwaiter().GetResult();
        return (new WeakReference(burst[0].Client), new WeakReference(burst[0].Authorities),
            burst.Select(f => f.Client).Distinct().Count(), burst.Select(f => f.Authorities).Distinct().Count());
    }

    /// <summary>
    /// A connection never touches the files (a stat on a hung mount would hold its thread): with the files gone, the copy
    /// in hand is used; a check, on a thread of its own, finds them gone and says so once, and the copy in hand stays (the
    /// last good copy, as Envoy and nginx keep it; a rule that must stop is removed from the configuration). Before, each
    /// load stat'ed the files and the next one after the delete failed at once.
    /// </summary>
    [Fact]
    public async Task A_load_uses_the_copy_in_hand_and_the_files_are_compared_off_its_path()
    {
        using var ca = new TestCa("akkal4 off-path CA");
        var log = new Recording();
        var files = ca.WritePem(ca.Issue("in-hand"), "client");
        var tls = Mutual(ca, files.Certificate, files.Key);
        using var inForce = new InForce(tls);
        var first = Load(tls, log);

        File.Delete(files.Certificate);
        File.Delete(files.Key);
        File.Delete(ca.CaFile);
        var next = Load(tls, log);
        Assert.Same(first.Client, next.Client);
        Assert.Same(first.Authorities, next.Authorities);

        await EventuallyAsync(() => Load(tls, log) is var _ && log.WarningsWith("cannot be read again") == 2,
            "a check finds the files gone and says so, for the client pair and the CA", TlsOrigination.RecheckEvery + Patience);
        var after = Load(tls, log);
        Assert.Same(first.Client, after.Client);
        Assert.Same(first.Authorities, after.Authorities);
        Assert.Contains(log.Warnings, w => w.Contains($"tls.caCertificates {ca.CaFile} cannot be read again", StringComparison.Ordinal) && w.Contains("copy read before", StringComparison.Ordinal));
        Assert.Empty(log.Errors);
    }

    /// <summary>
    /// A rotation written file by file, the certificate before its key (<c>cp cert.pem; cp key.pem</c>), or a check landing
    /// between the two: the mismatched pair fails to read, and the good pair in hand is kept (logged once, however many
    /// checks see it torn) until the key is there, then the new pair is presented. Before (review1-s14 R3), the failed
    /// re-read replaced the copy in hand and every connection through the rule was refused until the next check, 2 s.
    /// </summary>
    [Fact]
    public async Task A_certificate_written_before_its_key_keeps_the_pair_in_hand_until_the_new_pair_reads()
    {
        using var ca = new TestCa("akkal4 torn CA");
        var log = new Recording();
        var files = ca.WritePem(ca.Issue("first"), "client");
        var tls = Mutual(ca, files.Certificate, files.Key);
        using var inForce = new InForce(tls);
        var first = Load(tls, log).Client!;
        var fields = $"tls.clientCertificate {files.Certificate} / tls.privateKey {files.Key}";

        var second = ca.Issue("second");
        var staged = ca.WritePem(second, "staged");
        File.Copy(staged.Certificate, files.Certificate, overwrite: true);
        File.SetLastWriteTimeUtc(files.Certificate, File.GetLastWriteTimeUtc(files.Certificate).AddSeconds(30));

        // A check reads the torn pair and fails; meanwhile and after it, every load gets the pair in hand.
        await EventuallyAsync(() => Load(tls, log).Client!.Thumbprint == first.Thumbprint && log.WarningsWith($"{fields} cannot be read again") == 1,
            "a check finds the torn pair unreadable and says so", TlsOrigination.RecheckEvery + Patience);
        Assert.Equal(first.Thumbprint, Load(tls, log).Client!.Thumbprint);
        // A second check reads it again, fails the same way, and neither logs it again nor drops the pair in hand.
        var reads = log.Reads(fields);
        await EventuallyAsync(() => Load(tls, log).Client!.Thumbprint == first.Thumbprint && log.DebugsWith($"{fields} still cannot be read again") >= 1,
            "a second check tries the torn pair again", TlsOrigination.RecheckEvery + Patience);
        Assert.Equal(first.Thumbprint, Load(tls, log).Client!.Thumbprint);
        Assert.Equal(1, log.WarningsWith($"{fields} cannot be read again"));
        Assert.Equal(reads, log.Reads(fields));
        Assert.Empty(log.Errors);

        File.Copy(staged.Key, files.Key, overwrite: true);
        File.SetLastWriteTimeUtc(files.Key, File.GetLastWriteTimeUtc(files.Key).AddSeconds(30));
        await Presents(tls, log, second);
        Assert.Empty(log.Errors);
    }

    /// <summary>Loads once; only weak references to what came back, so the caller holds nothing.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (WeakReference Client, WeakReference Authorities) Loaded(UpstreamTls tls, Recording log)
    {
        var files = Load(tls, log);
        return (new WeakReference(files.Client), new WeakReference(files.Authorities));
    }

    [Fact]
    public void Two_rules_sharing_an_unreadable_CA_file_log_it_once_each_not_once_per_connection()
    {
        var ca = Path.Combine(Path.GetTempPath(), $"akkal4-shared-ca-{Guid.NewGuid():N}.pem");
        UpstreamTls Rule(string name) => new("SIMPLE", ca, null, null, null, Seq<string>.Empty, false) { Rules = name };
        var log = new Recording();
        using var inForce = new InForce(Rule("DestinationRule/default/a"), Rule("DestinationRule/default/b"));
        for (var i = 0; i < 10; i++)
        {
            Assert.Throws<UpstreamTlsConfigurationException>(() => Load(Rule("DestinationRule/default/a"), log));
            Assert.Throws<UpstreamTlsConfigurationException>(() => Load(Rule("DestinationRule/default/b"), log));
        }
        Assert.Equal(2, log.Errors.Count);
        Assert.Single(log.Errors, e => e.StartsWith("DestinationRule/default/a ", StringComparison.Ordinal));
        Assert.Single(log.Errors, e => e.StartsWith("DestinationRule/default/b ", StringComparison.Ordinal));
    }

    [Fact]
    public void Files_no_configuration_names_any_more_are_let_go_and_those_still_named_are_kept()
    {
        using var ca = new TestCa("akkal4 unnamed CA");
        var log = new Recording();
        var files = ca.WritePem(ca.Issue("client"), "client");
        var mutual = Mutual(ca, files.Certificate, files.Key) with { CaCertificates = null };
        var simple = new UpstreamTls("SIMPLE", ca.CaFile, null, null, null, Seq<string>.Empty, false) { Rules = "DestinationRule/default/simple" };
        var (clientFields, caFields) = ($"tls.clientCertificate {files.Certificate} / tls.privateKey {files.Key}", $"tls.caCertificates {ca.CaFile}");
        using var one = new InForce(mutual, simple);
        using var other = new InForce();
        var client = Loaded(mutual, log).Client;
        var authorities = Loaded(simple, log).Authorities;

        // The next configuration drops the CA bundle's rule: its entry goes; the client pair, still named, stays.
        one.Name(mutual);
        Loaded(mutual, log);
        Assert.Equal(1, log.Reads(clientFields));
        Collect();
        Assert.False(authorities.IsAlive, "the CA bundle no rule names is still referenced");
        Assert.True(client.IsAlive, "the client certificate still named was let go");
        Loaded(simple, log);
        Assert.Equal(2, log.Reads(caFields));

        // Named by another node only: kept until that one stops naming it too.
        other.Name(mutual);
        one.Name();
        Loaded(mutual, log);
        Assert.Equal(1, log.Reads(clientFields));
        other.Dispose();
        Collect();
        Assert.False(client.IsAlive, "the client certificate of a stopped node's configuration is still referenced");
    }

    [Fact]
    public void An_unreadable_file_is_logged_again_when_a_rule_names_it_again_after_none_did()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"akkal4-unnamed-ca-{Guid.NewGuid():N}.pem");
        var rule = new UpstreamTls("SIMPLE", missing, null, null, null, Seq<string>.Empty, false) { Rules = "DestinationRule/default/gone" };
        var log = new Recording();
        using var node = new InForce(rule);
        Assert.Throws<UpstreamTlsConfigurationException>(() => Load(rule, log));
        Assert.Throws<UpstreamTlsConfigurationException>(() => Load(rule, log));
        Assert.Single(log.Errors);

        node.Name();
        node.Name(rule);
        Assert.Throws<UpstreamTlsConfigurationException>(() => Load(rule, log));
        Assert.Equal(2, log.Errors.Count);
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
