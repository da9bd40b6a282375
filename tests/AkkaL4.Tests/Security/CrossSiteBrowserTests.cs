using System.Net;
using System.Net.Sockets;
using System.Text;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.Node;
using AkkaL4.Tests.Support;
using OpenQA.Selenium.Support.UI;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.Security;

/// <summary>
/// sec20, in a real headless Chromium: a page of another site (served here from 127.185.4.2) that the operator opens sends
/// POST /v1/config/delete to the admin API on loopback without a token (127.185.4.1), by a fetch in no-cors mode and by a
/// text/plain form it submits itself, neither asking the API first. Before sec20 the fetch deleted the Service; now both are
/// refused and the node's log names what Chromium sent (Sec-Fetch-Site cross-site). <see cref="CrossSiteWriteTests"/>
/// writes the same requests by hand, browser by browser.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", TestCategories.Browser)]
public sealed class CrossSiteBrowserTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(185);
    private const string Name = "sec20-page-web";

    [Fact]
    public async Task A_page_of_another_site_opened_in_a_browser_cannot_delete_through_a_loopback_api_without_a_token()
    {
        var node = await StartNodeAsync("sec20-browser");
        try
        {
            var warnings = SecurityKit.CollectWarnings(node);
            await ApplyAsync(node, Service(Name, "default", Block.Host(4, 10)));
            await using var api = await AdminServer.StartAsync(node, Block.At(4, 1, 0), token: null);
            var delete = $"{api.Url}/v1/config/delete";
            var json = $"{{\"resources\":[{{\"kind\":\"Service\",\"namespace\":\"default\",\"name\":\"{Name}\"}}]}}";
            // A JSON body in a text/plain form: the field's name, '=', its value ({...,"x":"="}).
            var (field, value) = (json[..^1] + ",\"x\":\"", "\"}");
            using var site = new HostileSite(Block.Host(4, 2), new Dictionary<string, string>
            {
                ["/fetch"] = $$"""
                    <!doctype html><title>loading</title><script>
                    fetch("{{delete}}", { method: "POST", mode: "no-cors", body: '{{json}}' })
                      .then(() => document.title = "sent", e => document.title = "failed: " + e);
                    </script>
                    """,
                ["/form"] = $$"""
                    <!doctype html><title>form</title>
                    <form method="post" enctype="text/plain" action="{{delete}}"><input type="hidden" name='{{field}}' value='{{value}}'></form>
                    <script>document.forms[0].submit();</script>
                    """,
            });

            using var browser = StatusPageBrowserTests.StartChromium();
            var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(30));
            browser.Navigate().GoToUrl(site.Url + "/fetch");
            wait.Until(d => d.Title != "loading");
            Assert.Equal("sent", browser.Title);
            // The fetch ends when the API has answered: what it did is done.
            Assert.Contains(Name, await ServicesAsync(api));
            await EventuallyAsync(() => Task.FromResult(warnings.Any(w => w.Contains("POST /v1/config/delete") && w.Contains("Sec-Fetch-Site 'cross-site'"))),
                "the browser's delete is refused and logged with what Chromium sent");

            browser.Navigate().GoToUrl(site.Url + "/form");
            wait.Until(d => d.Url.StartsWith(api.Url, StringComparison.Ordinal));
            Assert.Contains("page is refused", browser.PageSource); // the API's 403 (JSON escapes the apostrophe)
            Assert.Contains(Name, await ServicesAsync(api));
        }
        finally
        {
            await node.DisposeAsync();
        }
    }

    private static async Task<string> ServicesAsync(AdminServer api)
    {
        using var http = new HttpClient { BaseAddress = new Uri(api.Url), Timeout = Patience };
        return await http.GetStringAsync("/v1/config?kind=Service");
    }

    /// <summary>Another site: serves its pages by path (404 otherwise) to every connection until disposed.</summary>
    private sealed class HostileSite : IDisposable
    {
        private readonly TcpListener _listener;
        private readonly IReadOnlyDictionary<string, string> _pages;

        public string Url { get; }

        public HostileSite(string ip, IReadOnlyDictionary<string, string> pages)
        {
            _pages = pages;
            _listener = new TcpListener(IPAddress.Parse(ip), 0);
            _listener.Start();
            Url = $"http://{_listener.LocalEndpoint}";
            _ = ServeAsync();
        }

        private async Task ServeAsync()
        {
            while (true)
            {
                TcpClient client;
                try { client = await _listener.AcceptTcpClientAsync(); }
                catch (Exception e) when (e is SocketException or ObjectDisposedException) { return; }
                _ = AnswerAsync(client);
            }
        }

        private async Task AnswerAsync(TcpClient client)
        {
            using var _ = client;
            try
            {
                var stream = client.GetStream();
                var head = new StringBuilder();
                var buffer = new byte[4096];
                while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    var read = await stream.ReadAsync(buffer);
                    if (read == 0) return;
                    head.Append(Encoding.ASCII.GetString(buffer, 0, read));
                }
                var path = head.ToString().Split(' ', 3)[1];
                var body = Encoding.UTF8.GetBytes(_pages.GetValueOrDefault(path, "not here"));
                var status = _pages.ContainsKey(path) ? "200 OK" : "404 Not Found";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(
                    $"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"));
                await stream.WriteAsync(body);
            }
            catch (IOException)
            {
                // The browser went away: nothing to answer.
            }
        }

        public void Dispose() => _listener.Stop();
    }
}
