using System.Text;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// TLS-originated connections whose client half-closes right after its request while the upstream is still sending:
/// the router then ends its sending side to the upstream (close_notify, SslStream.ShutdownAsync) while it decrypts the
/// upstream's records. Before the fix the two ran at once on one OpenSSL object: about one connection in several hundred
/// of TlsConfigurationErrorTests lost its reply ("The decryption operation failed", SSL_ERROR_SYSCALL), and now and then
/// the test host died of SIGSEGV in SslDoHandshake (CI, session 15). On the stock transport, about one run in three
/// also left a connection open after its whole reply (Akka.IO lost the client's half-close: see EndAfterLastWrite).
/// Addresses: 127.205.1.x.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class TlsHalfCloseTests : IAsyncLifetime
{
    private static readonly AddressBlock Block = AddressBlocks.Of(205);
    private static readonly System.Net.IPEndPoint Front = Block.At(1, 1, 9000);
    private readonly string _client = Block.Host(1, 100);
    private const int Burst = 100;

    private readonly TestCa _ca = new("akkal4 half-close CA");
    private TlsLineServer _upstream = null!;
    private TestRouter _router = null!;

    public async Task InitializeAsync()
    {
        _upstream = new TlsLineServer(Block.At(1, 11, 9443), "burst", _ca.Issue("burst", "burst.example.com"), burst: Burst);
        _router = TestRouter.Start("tls-half-close");
        await _router.ApplyAsync(1,
            Service("tls-burst", Front.Address.ToString(), Front.Port, 9443, "tls-burst"),
            WorkloadEntry("tls-burst", Block.Host(1, 11), "{app: tls-burst}"),
            $$"""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: tls-burst, namespace: default}
            spec:
              host: tls-burst
              trafficPolicy:
                tls: {mode: SIMPLE, caCertificates: {{_ca.CaFile}}, subjectAltNames: [burst.example.com]}
            """);
    }

    [Fact]
    public async Task Every_connection_half_closed_during_the_upstreams_answer_gets_all_of_it()
    {
        var expected = new StringBuilder();
        for (var i = 0; i < Burst; i++) expected.Append($"burst {i}\n");
        expected.Append("burst sni=tls-burst.default.svc.cluster.local client=-: ");
        for (var n = 0; n < 300; n++)
        {
            // The request, then at once the end of the client's sending side, as TestClient.OneLineAsync does.
            var (reply, id) = await TestClient.OneLineAsync(_client, Front, $"half {n}");
            if (reply != $"{expected}half {n}")
            {
                var entry = await _router.Log.ForAsync(id);
                Assert.Fail($"connection {n} got {reply.Length} characters of {expected.Length + $"half {n}".Length} "
                    + $"(ends '{reply[Math.Max(0, reply.Length - 40)..]}'): {entry.Flags} {entry.Detail}");
            }
        }
    }

    public async Task DisposeAsync()
    {
        await _router.DisposeAsync();
        await _upstream.DisposeAsync();
        _ca.Dispose();
    }
}
