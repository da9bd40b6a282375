using System.Diagnostics;
using Akka.Event;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// sec13 #1: what a DestinationRule names as a TLS file is read only when it is a regular file (through symlinks) of at
/// most 1 MiB; anything else is refused at once, with the reason, and nothing is left reading it.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class TlsFileLimitTests
{
    private static UpstreamTls Simple(string ca) => new("SIMPLE", ca, null, null, null, Seq<string>.Empty, false) { Rules = "DestinationRule/default/limit" };

    /// <summary>The error loading <paramref name="ca"/> as caCertificates, within 5 s (a read that does not end fails the test, not hangs it).</summary>
    private static async Task<string> RefusalOf(string ca)
    {
        var e = await Assert.ThrowsAsync<UpstreamTlsConfigurationException>(() => TlsOrigination.LoadAsync(Simple(ca), NoLogger.Instance, TimeSpan.FromSeconds(5)).AsTask());
        return e.Message;
    }

    [Fact]
    public async Task A_fifo_is_refused_at_once_as_not_a_regular_file()
    {
        var fifo = Path.Combine(Path.GetTempPath(), $"akkal4-fifo-{Guid.NewGuid():N}");
        using (var mk = Process.Start("mkfifo", fifo)) await mk.WaitForExitAsync();
        var link = fifo + ".link";
        File.CreateSymbolicLink(link, fifo);
        try
        {
            Assert.Contains("not a regular file", await RefusalOf(fifo));
            Assert.Contains("not a regular file", await RefusalOf(link));
        }
        finally
        {
            using (var end = Process.Start("timeout", ["5", "sh", "-c", $": > {fifo}"])) await end.WaitForExitAsync();
            File.Delete(link);
            File.Delete(fifo);
        }
    }

    [Fact]
    public async Task A_device_that_never_ends_is_refused()
    {
        // Named directly it is outside the TLS file roots (sec15); through a link inside one, the read's own check refuses it.
        Assert.Contains("is outside the TLS file roots", await RefusalOf("/dev/zero"));
        var link = Path.Combine(Path.GetTempPath(), $"akkal4-zero-{Guid.NewGuid():N}");
        File.CreateSymbolicLink(link, "/dev/zero");
        try
        {
            var why = await RefusalOf(link);
            Assert.Contains("not a regular file", why);
            Assert.Contains($"tls.caCertificates {link}", why);
        }
        finally
        {
            File.Delete(link);
        }
    }

    [Fact]
    public async Task A_file_larger_than_1_MiB_is_refused_unread()
    {
        using var ca = new TestCa("akkal4 limit CA");
        var big = Path.Combine(ca.Directory, "big.pem");
        var pem = File.ReadAllText(ca.CaFile);
        using (var writer = File.CreateText(big))
            while (writer.BaseStream.Length <= 1024 * 1024) writer.Write(pem);
        Assert.Contains("larger than 1 MiB", await RefusalOf(big));
    }
}
