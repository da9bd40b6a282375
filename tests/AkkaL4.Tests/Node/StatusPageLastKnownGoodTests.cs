using System.Net;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.Support;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.Node;

/// <summary>
/// The status page says what this node's last-known-good copy holds, and a copy it could not write plainly: /v1/status had
/// <c>lastKnownGood</c> since fix12a, the page showed nothing, so an operator looking only at the page believed the node
/// would restart on the revision it routes by. The write is made to fail by a directory where its temporary file goes.
/// Headless Chromium as in <see cref="StatusPageBrowserTests"/>. Addresses: 127.231.2.x.
/// </summary>
[Collection(ControlPlane.ProcessesCollection.Name)]
[Trait("Category", "Browser")]
public sealed class StatusPageLastKnownGoodTests : IDisposable
{
    private readonly string _directory = TempDirectory();

    public void Dispose() => DeleteDirectory(_directory);

    private static ChromeDriver StartChromium()
    {
        foreach (var path in new[] { "/usr/bin/chromium", "/usr/bin/chromedriver" })
            Assert.True(File.Exists(path), $"{path} is missing: apt-get install chromium chromium-driver (.ci/run does)");
        var options = new ChromeOptions { BinaryLocation = "/usr/bin/chromium" };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu");
        var service = ChromeDriverService.CreateDefaultService("/usr/bin", "chromedriver");
        service.SuppressInitialDiagnosticInformation = true;
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task A_last_known_good_copy_not_written_is_shown_plainly_and_cleared_once_written()
    {
        var block = AddressBlocks.Of(231);
        await using var node = await StartNodeAsync("page-lkg", _directory);
        await using var admin = await AdminServer.StartAsync(node, block.At(2, 1, 0), null);
        await ApplyAsync(node, Service("lkg-a", "page-lkg", block.Host(2, 10)));
        await SavedAsync(_directory, 1);
        // The copy's temporary file cannot be created while a directory has its name.
        var blocker = new LastKnownGood(_directory).Path + ".tmp";
        Directory.CreateDirectory(blocker);
        await ApplyAsync(node, Service("lkg-b", "page-lkg", block.Host(2, 11)));
        await EventuallyAsync(() => Task.FromResult(node.LastKnownGoodCopy is { Revision: 1, Failed: 2 }), "the node's copy says revision 2 failed");

        using var browser = StartChromium();
        // Retries back off up to 30 s apart, so the written copy may take that long to show.
        var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(60));
        browser.Navigate().GoToUrl(admin.Url + "/");
        var line = browser.FindElement(By.Id("last-known-good"));
        wait.Until(_ => line.Text.Contains("NOT written", StringComparison.Ordinal));
        Assert.StartsWith("last-known-good copy NOT written: revision 2 failed (", line.Text);
        Assert.Contains("the copy on disk holds revision 1, which this node would serve if it restarted now; the write is retried", line.Text);
        Assert.Equal("bad", line.GetAttribute("class"));

        // Once the retry writes it, the page says so without a reload.
        Directory.Delete(blocker);
        wait.Until(_ => line.Text == "last-known-good copy on disk: revision 2");
        Assert.Equal("muted", line.GetAttribute("class"));
    }
}
