using System.Net;
using System.Net.Sockets;
using System.Text;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.ControlPlane;

namespace AkkaL4.Tests.Security;

/// <summary>One node on 127.121.4.1 for the reviewer's admin path tests; its log errors are collected.</summary>
public sealed class AdminPathsWorld() : WarningsWorld("fix11c-admin", "127.121.4.1");

/// <summary>
/// review1-s11: the hand-written admin route matcher (mem11) over raw sockets, with request targets as a client writes
/// them (no HttpClient normalisation): no spelling of a guarded route is answered without the token, and no request
/// target makes the matcher throw.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class AdminPathsTests(AdminPathsWorld world, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<AdminPathsWorld>
{
    private const string Token = "fix11c-token";

    private static async Task<(int Status, string Head)> RawAsync(IPEndPoint api, string method, string target, string? host = null)
    {
        using var client = new TcpClient(new IPEndPoint(IPAddress.Parse("127.121.4.9"), 0));
        await client.ConnectAsync(api);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"{method} {target} HTTP/1.1\r\nHost: {host ?? api.ToString()}\r\nConnection: close\r\n\r\n"));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var all = new MemoryStream();
        await stream.CopyToAsync(all, timeout.Token);
        var text = Encoding.ASCII.GetString(all.ToArray());
        var head = text.Split("\r\n\r\n")[0];
        return (int.Parse(head.Split(' ')[1]), head);
    }

    [Theory]
    [InlineData("GET", "/v1/status")]
    [InlineData("GET", "/V1/STATUS")]
    [InlineData("GET", "/v1/status/")]
    [InlineData("GET", "//v1/status")]
    [InlineData("GET", "/v1//status")]
    [InlineData("GET", "/v1/./status")]
    [InlineData("GET", "/v1/config/../status")]
    [InlineData("GET", "/healthz/../v1/status")]
    [InlineData("GET", "/healthz/%2e%2e/v1/status")]
    [InlineData("GET", "/%68ealthz/../v1/status")]
    [InlineData("GET", "/healthz%2F..%2Fv1%2Fstatus")]
    [InlineData("GET", "/readyz/../metrics")]
    [InlineData("GET", "/HEALTHZ/../openapi.json")]
    [InlineData("GET", "/logout/../v1/config")]
    [InlineData("GET", "/v1/config?kind=Gateway")]
    [InlineData("HEAD", "/v1/status")]
    [InlineData("OPTIONS", "/v1/status")]
    [InlineData("PUT", "/v1/config/")]
    [InlineData("DELETE", "/v1/config/Service/ns/x")]
    [InlineData("DELETE", "/healthz/../v1/config/Service/ns/x")]
    [InlineData("POST", "/logout/")]
    public async Task No_spelling_of_a_guarded_route_is_answered_without_the_token(string method, string target)
    {
        await using var api = await AdminServer.StartAsync(world.Node, new IPEndPoint(IPAddress.Parse("127.121.4.2"), 0), Token);

        var (status, head) = await RawAsync(api.Address, method, target);
        output.WriteLine($"{method} {target}: {head.Split("\r\n")[0]}");

        // Refused (401), or not a route at all (404); never served, never a failure.
        Assert.True(status is 401 or 404, $"{method} {target}: {head}");
        Assert.Contains("X-Content-Type-Options", head, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("OPTIONS", "*")]
    [InlineData("GET", "/")]
    [InlineData("GET", "/healthz/")]
    [InlineData("GET", "/nothing")]
    public async Task No_request_target_makes_the_matcher_fail(string method, string target)
    {
        await using var api = await AdminServer.StartAsync(world.Node, new IPEndPoint(IPAddress.Parse("127.121.4.3"), 0), null);
        var errorsBefore = world.Errors.Count;

        var (status, head) = await RawAsync(api.Address, method, target);
        output.WriteLine($"{method} {target}: {head.Split("\r\n")[0]}");

        Assert.True(status < 500, $"{method} {target}: {head}");
        Assert.Equal(errorsBefore, world.Errors.Count);
    }
}
