using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using AkkaL4.Node.Echo;
using AkkaL4.Tests.Support;
using Xunit.Abstractions;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// sec13 #1: a DestinationRule's TLS file that never ends (a FIFO here; /dev/stdin or a hung mount alike) must not jam the
/// node. Before, each connection of the rule read it on a thread-pool thread, and every later one waited on the same Lazy:
/// one pool thread per client, for ever, and every other Service's relays starved. The measuring is done with blocking
/// sockets on the test's own thread: the node's thread pool is the test's too.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class TlsFileJamTests(ITestOutputHelper output)
{
    private static readonly AddressBlock Block = AddressBlocks.Of(193);

    [Fact]
    public async Task A_tls_file_that_never_ends_does_not_jam_the_rest_of_the_node()
    {
        var fifo = Path.Combine(Path.GetTempPath(), $"akkal4-fifo-{Guid.NewGuid():N}");
        using (var mk = Process.Start("mkfifo", fifo)) await mk.WaitForExitAsync();
        await using var pod = new EchoServer(Block.At(100, 21, 9000), "echo");
        await using var router = TestRouter.Start("tls-file-jam");
        var sockets = new List<Socket>();
        int answered;
        TimeSpan relays;
        try
        {
            await router.ApplyAsync(1,
                Service("plain", Block.Host(100, 20), 19000, 9000, "echo"),
                WorkloadEntry("echo-1", Block.Host(100, 21), "{app: echo}"),
                Service("tlsup", Block.Host(100, 10), 19000, 9443, "tlsup"),
                WorkloadEntry("tlsup-1", Block.Host(100, 11), "{app: tlsup}"),
                TrafficPolicy(Fqdn("tlsup"), $"{{tls: {{mode: SIMPLE, caCertificates: {fifo}}}}}"));
            Assert.True(Relay(0), "the plain Service relays before");

            // Clients of the TLS upstream: each one's dial needs the file.
            for (var i = 0; i < 150; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                s.Bind(Block.At(100, 31, 0));
                s.Connect(Block.At(100, 10, 19000));
                sockets.Add(s);
            }
            // Wait until the node has refused them all (each one is closed), not a fixed time: no wait is long enough
            // for a jammed node, and a refused client sees its connection end.
            var refused = Stopwatch.StartNew();
            var ended = 0;
            foreach (var s in sockets)
            {
                s.ReceiveTimeout = (int)Math.Max(1, 10_000 - refused.ElapsedMilliseconds);
                try { if (s.Receive(new byte[16]) == 0) ended++; }
                catch (SocketException) { }
            }
            output.WriteLine($"{ended} of 150 TLS clients ended by the node in {refused.Elapsed.TotalSeconds:0.0} s");

            // Another Service's clients, which have nothing to do with that file.
            var clock = Stopwatch.StartNew();
            answered = 0;
            for (var i = 1; i <= 10 && Relay(i); i++) answered++;
            relays = clock.Elapsed;
            Assert.Equal(150, ended);
        }
        finally
        {
            // Readers blocked on the FIFO (before the fix) get an end of file.
            using (var end = Process.Start("timeout", ["5", "sh", "-c", $": > {fifo}"])) await end.WaitForExitAsync();
            File.Delete(fifo);
            foreach (var s in sockets) s.Dispose();
        }
        Assert.True(answered == 10 && relays < TimeSpan.FromSeconds(5),
            $"with 150 connections of a rule naming a TLS file that never ends, {answered} of 10 connections of another Service were relayed "
            + $"in {relays.TotalSeconds:0.0} s (a line each, 5 s allowed each)");
    }

    /// <summary>One line through the plain Service with a blocking socket and a 5 s receive timeout: true when echoed.</summary>
    private static bool Relay(int i)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 5000, SendTimeout = 5000 };
        try
        {
            s.Bind(Block.At(100, 32, 0));
            s.Connect(Block.At(100, 20, 19000));
            s.Send(Encoding.ASCII.GetBytes($"line {i}\n"));
            s.Shutdown(SocketShutdown.Send);
            var buffer = new byte[256];
            var text = new StringBuilder();
            for (int n; (n = s.Receive(buffer)) > 0;) text.Append(Encoding.ASCII.GetString(buffer, 0, n));
            return text.ToString().Contains($"line {i}");
        }
        catch (SocketException) { return false; }
    }
}
