using System.Net;
using System.Net.Sockets;
using System.Text;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.DataPlane;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.Support.Manifests;

namespace AkkaL4.Tests.Security;

/// <summary>
/// Slowloris against a gateway listener that reads a preamble (a PROXY header from a trusted load balancer, then a
/// ClientHello): clients that keep sending, one byte at a time, never finishing. preamble-timeout is a deadline from the
/// accept, not a wait between bytes, so each such connection ends at it (flag PreambleTimeout, counted), its descriptor
/// and buffer with it, however steadily the client drips. Real sockets on 127.198.2.x.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class PreambleSlowlorisTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(198);
    private static readonly IPEndPoint Gateway = Block.At(2, 1, 18443);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(1);
    /// <summary>A byte this often: the whole PROXY header would take ~4 s, a ClientHello tens of seconds.</summary>
    private static readonly TimeSpan Drip = TimeSpan.FromMilliseconds(100);

    private static async Task<TestRouter> StartAsync()
    {
        var router = TestRouter.Start("slowloris", Labels.Of(("istio", "slow-gw")), settings: $"""
            akkal4.data-plane.preamble-timeout = {Deadline.TotalMilliseconds}ms
            akkal4.data-plane.accept-proxy-protocol = on
            {DataPlaneSettings.TrustedSourcesKey} = ["{Block.Host(2, 1)[..^1]}0/24"]
            """);
        await router.ApplyAsync(1,
            Service("slow", Block.Host(2, 20), 9443, 9443, "slow"),
            WorkloadEntry("slow", Block.Host(2, 30), "{app: slow}"),
            Manifests.Gateway("slow-gw", "default", $"""
            selector: {"{istio: slow-gw}"}
            servers:
            - port: {"{"}number: {Gateway.Port}, name: tls, protocol: TLS{"}"}
              bind: {Gateway.Address}
              hosts: ['*.example.com']
              tls: {"{mode: PASSTHROUGH}"}
            """),
            VirtualService("slow-sni", "default", """
            hosts: ['*.example.com']
            gateways: [slow-gw]
            tls:
            - match: [{sniHosts: ['*.example.com']}]
              route: [{destination: {host: slow, port: {number: 9443}}}]
            """));
        return router;
    }

    /// <summary>Sends <paramref name="slow"/> a byte per <see cref="Drip"/> after <paramref name="fast"/>, until all is sent or the node ends the connection; how many of the slow bytes went.</summary>
    private static async Task<int> DripAsync(TestClient client, byte[] fast, byte[] slow, CancellationToken stop)
    {
        try
        {
            if (fast.Length > 0) await client.SendAsync(fast);
            for (var i = 0; i < slow.Length; i++)
            {
                await client.SendSomeAsync(slow.AsMemory(i, 1), stop);
                await Task.Delay(Drip, stop);
            }
            return slow.Length;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            return -1;
        }
    }

    private sealed record Dripped(AccessLogEntry Entry, ClientEnd End);

    /// <summary>One client dripping; its access-log entry is the one from <paramref name="loggedAs"/> (the PROXY header's source once it was read).</summary>
    private static async Task<Dripped> DripOneAsync(TestRouter router, string source, byte[] fast, byte[] slow, string? loggedAs = null)
    {
        await using var client = await TestClient.ConnectAsync(source, Gateway);
        using var stop = new CancellationTokenSource();
        var sent = DripAsync(client, fast, slow, stop.Token);
        // The node ends it while the client is still dripping.
        var end = await client.ReadToCloseAsync(TimeSpan.FromSeconds(20));
        var finished = sent.IsCompleted && sent.Result == slow.Length;
        await stop.CancelAsync();
        Assert.False(finished, "the client finished its preamble before the node ended the connection: no deadline was met");
        var entry = loggedAs is null
            ? await router.Log.ForAsync(client.Id)
            : await router.Log.WaitAsync(e => e.Source == loggedAs && e.Start >= client.Id.Opened, "connection from " + loggedAs);
        return new Dripped(entry, end);
    }

    [Fact]
    public async Task A_PROXY_header_or_ClientHello_dripped_a_byte_at_a_time_is_ended_at_the_preamble_deadline()
    {
        await using var router = await StartAsync();
        var proxy = Encoding.ASCII.GetBytes($"PROXY TCP4 10.1.2.3 {Gateway.Address} 5555 {Gateway.Port}\r\n");
        var hello = await TlsClient.ClientHelloAsync("drip.example.com");

        var header = await DripOneAsync(router, Block.Host(2, 100), [], proxy);
        Assert.Equal(ResponseFlags.PreambleTimeout, header.Entry.Flags);
        Assert.Contains("no PROXY header within", header.Entry.Detail);
        Assert.True(header.End.NoData);

        // The header at once, then the hello a byte at a time: the same deadline, from the accept, covers both.
        var helloDrip = await DripOneAsync(router, Block.Host(2, 101), proxy, hello, loggedAs: "10.1.2.3:5555");
        Assert.Equal(ResponseFlags.PreambleTimeout, helloDrip.Entry.Flags);
        Assert.Contains("no ClientHello within", helloDrip.Entry.Detail);
        Assert.True(helloDrip.End.NoData);
    }

    [Fact]
    public async Task Many_dripping_clients_hold_nothing_past_the_deadline()
    {
        await using var router = await StartAsync();
        var hello = await TlsClient.ClientHelloAsync("many.example.com");
        var proxy = Encoding.ASCII.GetBytes($"PROXY TCP4 10.1.2.3 {Gateway.Address} 5555 {Gateway.Port}\r\n");
        using var stop = new CancellationTokenSource();
        var clients = new List<TestClient>();
        var drips = new List<Task<int>>();
        try
        {
            for (var i = 0; i < 200; i++)
            {
                var client = await TestClient.ConnectAsync(Block.Host(2, 110 + i % 100), Gateway);
                clients.Add(client);
                // Half a hello at once (the node's buffer holds it), then the rest a byte at a time.
                drips.Add(DripAsync(client, [.. proxy, .. hello[..(hello.Length / 2)]], hello[(hello.Length / 2)..], stop.Token));
            }
            var ends = await Task.WhenAll(clients.Select(c => c.ReadToCloseAsync(TimeSpan.FromSeconds(30))));
            Assert.All(ends, e => Assert.True(e.NoData));
            await Waits.EventuallyAsync(() => router.Node.Connections.Open == 0, "every dripping connection ended on the node");
            await router.Metrics.WaitForAsync("envoy_listener_downstream_pre_cx_timeout", 200, () =>
            {
                var entries = router.Log.Entries;
                var others = entries.Where(e => !e.Flags.HasFlag(ResponseFlags.PreambleTimeout)).Select(e => $"{e.Source} {ResponseFlagNames.Format(e.Flags)}: {e.Detail}");
                return $"{entries.Count} access-log entries, not timed out: [{string.Join(" | ", others)}]";
            });
        }
        finally
        {
            await stop.CancelAsync();
            foreach (var client in clients) await client.DisposeAsync();
        }
    }
}
