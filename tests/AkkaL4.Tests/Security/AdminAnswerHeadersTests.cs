using System.Net;
using System.Net.Sockets;
using System.Text;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.Security;

/// <summary>One node on 127.160.3.1 for the answer-header tests; its log warnings are collected.</summary>
public sealed class AdminAnswersWorld() : WarningsWorld("admin-answers", AddressBlocks.Of(160).Host(3, 1));

/// <summary>
/// The security headers are on every answer of the admin API, also those Kestrel writes by itself (a request it
/// cannot parse, headers too large) and a handler's failure: raw requests over real sockets, API on 127.160.3.x,
/// clients on 127.160.4.x.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class AdminAnswerHeadersTests(AdminAnswersWorld world) : IClassFixture<AdminAnswersWorld>
{
    private const string Token = "answer-headers-token-0815";
    private static readonly AddressBlock Block = AddressBlocks.Of(160);

    /// <summary>Every answer read from <paramref name="request"/> sent on one connection from <paramref name="from"/>, until the server closes.</summary>
    private static async Task<List<(string Status, Dictionary<string, string> Headers)>> RawAsync(string from, IPEndPoint api, string request)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        await socket.ConnectAsync(api);
        await socket.SendAsync(Encoding.ASCII.GetBytes(request));
        var received = new MemoryStream();
        var buffer = new byte[16384];
        using var timeout = new CancellationTokenSource(Patience);
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0) received.Write(buffer, 0, read);
        }
        catch (SocketException)
        {
            // reset after the answer: what came is what counts
        }
        var text = Encoding.ASCII.GetString(received.ToArray());
        var answers = new List<(string, Dictionary<string, string>)>();
        while (text.Length > 0)
        {
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            Assert.True(end > 0, $"an answer's head: {text}");
            var lines = text[..end].Split("\r\n");
            var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0], p => p[1].Trim(), StringComparer.OrdinalIgnoreCase);
            answers.Add((lines[0], headers));
            text = text[(end + 4)..];
            if (headers.ContainsKey("Transfer-Encoding"))
            {
                // Chunked: size lines until the last, empty chunk.
                int size;
                do
                {
                    var line = text.IndexOf("\r\n", StringComparison.Ordinal);
                    size = Convert.ToInt32(text[..line], 16);
                    text = text[(line + 2 + size + 2)..];
                } while (size > 0);
            }
            else text = text[(headers.TryGetValue("Content-Length", out var n) ? int.Parse(n) : 0)..];
        }
        return answers;
    }

    private static void AssertSecurityHeaders(string status, Dictionary<string, string> headers)
    {
        foreach (var (name, value) in SecurityHeaders.All)
            Assert.True(headers.TryGetValue(name, out var got) && got == value, $"{status}: {name} is '{got}', not '{value}'");
        Assert.Contains("default-src 'none'", headers["Content-Security-Policy"]);
        Assert.False(headers.ContainsKey("Server"), $"{status}: no Server header");
    }

    [Fact]
    public async Task Answers_Kestrel_writes_itself_carry_the_security_headers_too()
    {
        await using var api = await AdminServer.StartAsync(world.Node, Block.At(3, 2, 0), Token);
        var host = $"Host: {api.Address}\r\n";
        var from = Block.Host(4, 1);
        var cases = new (string Request, string Status)[]
        {
            ("NOT A REQUEST LINE\r\n\r\n", "HTTP/1.1 400 Bad Request"),
            ($"GET /{new string('a', 9000)} HTTP/1.1\r\n{host}\r\n", "HTTP/1.1 414 URI Too Long"),
            ($"GET /healthz HTTP/1.1\r\n{host}X-Big: {new string('b', 17 * 1024)}\r\n\r\n", "HTTP/1.1 431 Request Header Fields Too Large"),
            ($"GET /healthz HTTP/1.1\r\n{host}Content-Length: many\r\n\r\n", "HTTP/1.1 400 Bad Request"),
            ($"GET /healthz HTTP/7.0\r\n{host}\r\n", "HTTP/1.1 505 HTTP Version Not Supported"),
            // A body over the limit, announced: refused before it is read.
            ($"PUT /v1/config HTTP/1.1\r\n{host}Authorization: Bearer {Token}\r\nContent-Type: application/yaml\r\nContent-Length: {AdminServer.MaxConfigBytes + 100}\r\nConnection: close\r\n\r\n",
                "HTTP/1.1 413 Payload Too Large"),
            ($"POST /login HTTP/1.1\r\n{host}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {AdminServer.MaxConfigBytes + 100}\r\nConnection: close\r\n\r\n",
                "HTTP/1.1 413 Payload Too Large"),
        };
        foreach (var (request, status) in cases)
        {
            var answer = Assert.Single(await RawAsync(from, api.Address, request));
            Assert.Equal(status, answer.Status);
            AssertSecurityHeaders(answer.Status, answer.Headers);
        }

        // After a request the API answered, on the same connection: both answers have them.
        var both = await RawAsync(from, api.Address, $"GET /healthz HTTP/1.1\r\n{host}\r\nNOT A REQUEST LINE\r\n\r\n");
        Assert.Equal(["HTTP/1.1 200 OK", "HTTP/1.1 400 Bad Request"], both.Select(a => a.Status));
        foreach (var (status, headers) in both) AssertSecurityHeaders(status, headers);
    }

    [Fact]
    public async Task A_handler_that_fails_is_answered_with_the_headers_and_a_reason_for_probes()
    {
        // A handler that throws (what the node's actors were asked fails, not a timeout): the catch-all's JSON 500.
        var failing = AdminServer.NodeQueries.Of(world.Node) with { Listeners = () => throw new InvalidOperationException("a handler that fails") };
        await using (var broken = await AdminServer.StartAsync(world.Node, Block.At(3, 5, 0), Token, null, failing))
        {
            var failed = Assert.Single(await RawAsync(Block.Host(4, 2), broken.Address, $"GET /v1/status HTTP/1.1\r\nHost: {broken.Address}\r\nAuthorization: Bearer {Token}\r\nConnection: close\r\n\r\n"));
            Assert.Equal("HTTP/1.1 500 Internal Server Error", failed.Status);
            AssertSecurityHeaders(failed.Status, failed.Headers);
            Assert.StartsWith("application/json", failed.Headers["Content-Type"]);
        }

        // A node of its own, stopped under its API: its actors do not answer, and the status says so (503, what did not
        // answer), with the headers; a probe gets the reason, not a bare 500.
        var node = SecurityKit.StartNode("admin-answers-stopped", Block.Host(3, 3), null);
        await using var api = await AdminServer.StartAsync(node, Block.At(3, 4, 0), Token);
        await node.DisposeAsync();
        var host = $"Host: {api.Address}\r\n";
        var from = Block.Host(4, 2);

        var status = Assert.Single(await RawAsync(from, api.Address, $"GET /v1/status HTTP/1.1\r\n{host}Authorization: Bearer {Token}\r\nConnection: close\r\n\r\n"));
        Assert.Equal("HTTP/1.1 503 Service Unavailable", status.Status);
        AssertSecurityHeaders(status.Status, status.Headers);
        Assert.StartsWith("application/json", status.Headers["Content-Type"]);

        var ready = Assert.Single(await RawAsync(from, api.Address, $"GET /readyz HTTP/1.1\r\n{host}Connection: close\r\n\r\n"));
        Assert.Equal("HTTP/1.1 503 Service Unavailable", ready.Status);
        AssertSecurityHeaders(ready.Status, ready.Headers);
    }
}
