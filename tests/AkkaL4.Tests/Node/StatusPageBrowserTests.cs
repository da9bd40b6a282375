using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using Akka.Cluster;
using AkkaL4.Actors;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Node.Admin;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;
using Xunit.Abstractions;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.Node;

/// <summary>
/// The status page in a real headless Chromium (Debian's chromium and chromium-driver, which .ci/run installs):
/// two nodes in one cluster on 127.80.0.1 and 127.80.0.2, the first one's admin API behind a token. The browser logs
/// in with the token, sees both members and every listener, and a Service applied through the API appears on the
/// page without a reload, all under the API's Content-Security-Policy (nothing blocked: the console says so), and logging
/// out asks for the token again. A screenshot is kept under $TMPDIR/akkal4-artifacts. Addresses: 127.80.x.x.
/// </summary>
[Collection(ControlPlane.ProcessesCollection.Name)]
[Trait("Category", "Browser")]
public sealed class StatusPageBrowserTests(ITestOutputHelper output)
{
    private const string Token = "page-token";

    // Both nodes serve the same Service address on this one host: they share it as compose replicas do (reuse-port on);
    // without it whichever node binds second is refused, and if that was the first node the test waited for it in vain.
    private static string Quiet(string host, int port) =>
        $"akka.loglevel = ERROR\nakka.stdout-loglevel = ERROR\nakka.remote.dot-netty.tcp {{ hostname = \"{host}\", port = {port} }}\nakkal4.data-plane.reuse-port = on";

    private static int FreePortOn(string host)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(host), 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>A headless Chromium (also the cross-site write tests' browser).</summary>
    internal static ChromeDriver StartChromium()
    {
        foreach (var path in new[] { "/usr/bin/chromium", "/usr/bin/chromedriver" })
            Assert.True(File.Exists(path), $"{path} is missing: apt-get install chromium chromium-driver (.ci/run does)");
        var options = new ChromeOptions { BinaryLocation = "/usr/bin/chromium" };
        // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,2000");
        // The console, where Chromium reports what the Content-Security-Policy blocked.
        options.SetLoggingPreference(LogType.Browser, LogLevel.All);
        var service = ChromeDriverService.CreateDefaultService("/usr/bin", "chromedriver");
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task The_page_shows_every_member_and_listener_and_a_change_applied_through_the_API_without_a_reload()
    {
        var seedPort = FreePortOn("127.80.0.1");
        await using var first = RouterNode.Start(new RouterNodeOptions { Name = "page-1", Overrides = Quiet("127.80.0.1", seedPort) });
        await using var second = RouterNode.Start(new RouterNodeOptions
        {
            Name = "page-2", Overrides = Quiet("127.80.0.2", 0), Seeds = [$"akka.tcp://{RouterNode.ActorSystemName}@127.80.0.1:{seedPort}"],
        });
        await EventuallyAsync(() => Task.FromResult(Cluster.Get(first.ClusterSystem).State.Members.Count(m => m.Status == MemberStatus.Up) == 2),
            "both nodes are Up members", TimeSpan.FromSeconds(60));
        await using var admin = await AdminServer.StartAsync(first, new IPEndPoint(IPAddress.Parse("127.80.0.1"), 0), Token);
        using var http = new HttpClient { BaseAddress = new Uri(admin.Url), Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);

        await PutAsync(http, Join(Service("page-a", "page", "127.80.1.1"), Workload("page-a-1", "page", "127.80.2.1", "page-a")));
        await EventuallyAsync(async () => (await first.ListenersAsync()).Any(l => l.Bound), "the first listener is bound");

        using var browser = StartChromium();
        var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(30));
        try
        {
            // Behind the token: the page asks for it, and the form's cookie opens the page.
            browser.Navigate().GoToUrl(admin.Url + "/");
            browser.FindElement(By.Name("token")).SendKeys(Token);
            browser.FindElement(By.CssSelector("form button")).Click();
            wait.Until(d => d.FindElements(By.CssSelector("#members tbody tr")).Count == 2);

            var members = browser.FindElements(By.CssSelector("#members tbody tr")).Select(r => r.GetAttribute("data-address")).ToHashSet();
            Assert.Equal(new HashSet<string?> { first.ClusterAddress, second.ClusterAddress }, members);
            Assert.Contains("yes", browser.FindElement(By.CssSelector($"#members tbody tr[data-address='{first.ClusterAddress}']")).Text);
            foreach (var listener in await first.ListenersAsync())
                wait.Until(d => d.FindElements(By.CssSelector($"#listeners tr[data-address='{listener.Address}']")).Count == 1);

            // A mark on the page's window: a reload would wipe it.
            ((IJavaScriptExecutor)browser).ExecuteScript("window.notReloaded = true;");
            var revision = await PutAsync(http, Join(Service("page-b", "page", "127.80.1.2"), Workload("page-b-1", "page", "127.80.2.2", "page-b")));

            wait.Until(d => d.FindElements(By.CssSelector("#listeners tr[data-address='127.80.1.2:19000']")).Count == 1);
            wait.Until(d => d.FindElements(By.CssSelector($"#history tr[data-revision='{revision}']")).Count == 1);
            wait.Until(d => d.FindElement(By.Id("config")).Text.Contains("page-b"));
            Assert.Contains("created Service/page/page-b", browser.FindElement(By.CssSelector($"#history tr[data-revision='{revision}']")).Text);
            Assert.Equal(true, ((IJavaScriptExecutor)browser).ExecuteScript("return window.notReloaded === true;"));
            var endpoint = browser.FindElement(By.CssSelector("#upstreams table[data-cluster='outbound|19000||page-b.page.svc.cluster.local'] tr[data-endpoint='127.80.2.2:9000']"));
            Assert.Contains("healthy", endpoint.Text);

            // The explain form asks /v1/explain and shows its answer.
            browser.FindElement(By.CssSelector("#explain input[name=source]")).SendKeys("127.80.3.1");
            browser.FindElement(By.CssSelector("#explain input[name=destination]")).SendKeys("127.80.1.2:19000");
            browser.FindElement(By.CssSelector("#explain button")).Click();
            wait.Until(d => d.FindElement(By.Id("explanation")).Text.Contains("\"result\": \"route\""));

            // The cookie is not the token, and no script may read it.
            var cookie = browser.Manage().Cookies.GetCookieNamed(SessionCookie.Name);
            Assert.NotNull(cookie);
            Assert.DoesNotContain(Token, cookie.Value);
            Assert.True(cookie.IsHttpOnly);
            Assert.Equal("Strict", cookie.SameSite);
            Assert.Equal("", ((IJavaScriptExecutor)browser).ExecuteScript("return document.cookie;"));

            // Everything above ran under the CSP; Chromium logs each thing it blocks ("Refused to ... because it violates
            // the following Content Security Policy directive").
            var blocked = browser.Manage().Logs.GetLog(LogType.Browser).Where(e => e.Message.Contains("Content Security Policy", StringComparison.Ordinal)).ToList();
            Assert.True(blocked.Count == 0, "blocked by the CSP: " + string.Join("\n", blocked.Select(e => e.Message)));

            // Logging out clears the cookie and asks for the token again.
            browser.FindElement(By.CssSelector("#logout button")).Click();
            wait.Until(d => d.FindElements(By.Name("token")).Count == 1);
            Assert.Null(browser.Manage().Cookies.GetCookieNamed(SessionCookie.Name));
            Assert.DoesNotContain(browser.Manage().Logs.GetLog(LogType.Browser), e => e.Message.Contains("Content Security Policy", StringComparison.Ordinal));
        }
        finally
        {
            var directory = Path.Combine(Path.GetTempPath(), "akkal4-artifacts");
            Directory.CreateDirectory(directory);
            var file = Path.Combine(directory, "status-page.png");
            browser.GetScreenshot().SaveAsFile(file);
            output.WriteLine($"screenshot: {file}");
            Console.WriteLine($"status page screenshot: {file}");
        }
    }

    private static async Task<long> PutAsync(HttpClient http, string manifests)
    {
        using var response = await http.PutAsync("/v1/config?wait=true", new StringContent(manifests, Encoding.UTF8, "application/yaml"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("revision").GetInt64();
    }
}
