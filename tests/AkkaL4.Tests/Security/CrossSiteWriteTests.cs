using System.Net;
using System.Net.Sockets;
using System.Text;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.Security;

/// <summary>
/// sec20: a browser sends a form post, or a fetch in no-cors mode, to any address without asking it first (no CORS
/// preflight), from the operator's own address and with the Host the page named. So any web page the operator opened
/// could POST /v1/config/delete to the admin API on loopback without a token (the default, compose's too, or one reached
/// through an SSH tunnel) as text/plain, and the node deleted what it named: the Host check against DNS rebinding does not
/// see it (the page names 127.x itself), and the page never needs to read the answer. The requests here are written byte
/// for byte as browsers send them, over real sockets. API on 127.185.1.x, clients on 127.185.2.x.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", TestCategories.EndToEnd)]
public sealed class CrossSiteWriteTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(185);
    private const string Name = "sec20-web";
    private static readonly string DeleteWeb = $"{{\"resources\":[{{\"kind\":\"Service\",\"namespace\":\"default\",\"name\":\"{Name}\"}}]}}";

    [Fact]
    public async Task A_page_of_another_site_cannot_delete_through_a_loopback_api_without_a_token_while_the_cli_still_can()
    {
        var node = await StartNodeAsync("sec20-cross-site");
        try
        {
            var warnings = SecurityKit.CollectWarnings(node);
            await ApplyAsync(node, Service(Name, "default", Block.Host(1, 10)));
            await using var api = await AdminServer.StartAsync(node, Block.At(1, 1, 0), token: null);
            var attacker = "http://attacker.example";

            // What the browsers send for the same hostile page, newest first.
            var pages = new (string What, string? Type, string[] Headers, HttpStatusCode Refused)[]
            {
                ("fetch(no-cors) from another site", "text/plain;charset=UTF-8",
                    [$"Origin: {attacker}", "Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: no-cors", "Sec-Fetch-Dest: empty"], HttpStatusCode.Forbidden),
                ("a text/plain form of a page on another port of this host", "text/plain",
                    ["Origin: http://127.0.0.1:8080", "Sec-Fetch-Site: same-site", "Sec-Fetch-Mode: navigate"], HttpStatusCode.Forbidden),
                ("a browser without Sec-Fetch-Site", "text/plain;charset=UTF-8", [$"Origin: {attacker}"], HttpStatusCode.Forbidden),
                // Origin null is how a browser without Sec-Fetch-Site shows the status page's own form (no-referrer) as well as a
                // sandboxed frame's: let by that check, refused by the content type.
                ("a sandboxed frame in a browser without Sec-Fetch-Site", "text/plain", ["Origin: null"], HttpStatusCode.UnsupportedMediaType),
                ("a form of a browser that sends no Origin", "application/x-www-form-urlencoded", [], HttpStatusCode.UnsupportedMediaType),
                ("no content type", null, [], HttpStatusCode.UnsupportedMediaType),
            };
            foreach (var (what, type, headers, refused) in pages)
            {
                var (status, body) = await SendAsync(api, Block.Host(2, 1), Post(api, "/v1/config/delete", type, DeleteWeb, headers));
                Assert.True(status == refused, $"{what}: {(int)status} {body} (expected {(int)refused})");
                Assert.Contains(Name, await ServicesAsync(api));
            }
            // Any write, not only this one (a PUT is preflighted by browsers; refused all the same).
            var (put, _) = await SendAsync(api, Block.Host(2, 1), Put(api, Service(Name, "default", Block.Host(1, 11)), $"Origin: {attacker}", "Sec-Fetch-Site: cross-site"));
            Assert.Equal(HttpStatusCode.Forbidden, put);
            await EventuallyAsync(() => Task.FromResult(warnings.Any(w => w.Contains("POST /v1/config/delete") && w.Contains("Sec-Fetch-Site 'cross-site'"))),
                "the first refusal is logged with its reason");

            // The CLI's request (JSON, no browser's headers) deletes.
            var (cli, answer) = await SendAsync(api, Block.Host(2, 2), Post(api, "/v1/config/delete", "application/json; charset=utf-8", DeleteWeb));
            Assert.True(cli == HttpStatusCode.OK, $"{(int)cli} {answer}");
            Assert.DoesNotContain(Name, await ServicesAsync(api));
        }
        finally
        {
            await node.DisposeAsync();
        }
    }

    private static string Post(AdminServer api, string path, string? type, string body, params string[] headers) =>
        Request("POST", api, path, type, body, headers);

    private static string Put(AdminServer api, string yaml, params string[] headers) => Request("PUT", api, "/v1/config", "application/yaml", yaml, headers);

    private static string Request(string method, AdminServer api, string path, string? type, string body, string[] headers) =>
        $"{method} {path} HTTP/1.1\r\nHost: {api.Address}\r\n{string.Concat(headers.Select(h => h + "\r\n"))}"
        + (type is null ? "" : $"Content-Type: {type}\r\n")
        + $"Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}";

    /// <summary>Sends <paramref name="request"/> from <paramref name="source"/> and reads the answer to the server's close.</summary>
    private static async Task<(HttpStatusCode Status, string Body)> SendAsync(AdminServer api, string source, string request)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
        await socket.ConnectAsync(api.Address);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var answer = await reader.ReadToEndAsync().WaitAsync(Patience);
        var status = answer.Split(' ', 3) is [_, var code, _] && int.TryParse(code, out var n) ? (HttpStatusCode)n : throw new InvalidDataException($"not an HTTP answer: {answer}");
        return (status, answer[(answer.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]);
    }

    /// <summary>The stored Services, as the API lists them (YAML).</summary>
    private static async Task<string> ServicesAsync(AdminServer api)
    {
        using var http = new HttpClient { BaseAddress = new Uri(api.Url), Timeout = Patience };
        return await http.GetStringAsync("/v1/config?kind=Service");
    }
}
