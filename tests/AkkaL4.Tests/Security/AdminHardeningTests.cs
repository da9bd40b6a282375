using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.ControlPlane;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;
using static AkkaL4.Tests.Security.SecurityKit;

namespace AkkaL4.Tests.Security;

/// <summary>One node on 127.30.4.1 for the admin API tests; its log warnings are collected.</summary>
public sealed class AdminHardeningWorld() : WarningsWorld("admin-hardening", "127.30.4.1");

/// <summary>
/// The admin API's protections over real sockets on 127.30.4.x: a body dripped slowly is cut off, the
/// Host header must name the loopback API (DNS rebinding), a token on loopback is enforced and failures
/// are logged without it, HTTPS with a certificate, and writes past the limit are answered 429.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class AdminHardeningTests(AdminHardeningWorld world, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<AdminHardeningWorld>
{
    private static IPEndPoint Loopback(int last) => new(IPAddress.Parse($"127.30.4.{last}"), 0);

    /// <summary>Headers of a PUT announcing a big body (none of it sent).</summary>
    private static byte[] PutHeaders(IPEndPoint api, int contentLength = 4_000_000, bool expectContinue = false) => Encoding.ASCII.GetBytes(
        $"PUT /v1/config HTTP/1.1\r\nHost: {api}\r\nContent-Type: application/yaml\r\nContent-Length: {contentLength}\r\n"
        + (expectContinue ? "Expect: 100-continue\r\n" : "") + "\r\n");

    /// <summary>An interim or final response's status line and headers, read byte by byte up to the blank line.</summary>
    private static async Task<string> ReadHeadAsync(Stream stream)
    {
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one) == 0) break;
            head.Append((char)one[0]);
        }
        return head.ToString();
    }

    /// <summary>32 KiB/s of body (4 KiB every 125 ms) until stopped or the connection ends.</summary>
    private static async Task DripAsync(Stream body, CancellationToken stop)
    {
        var chunk = new byte[4096];
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await body.WriteAsync(chunk, stop);
                await Task.Delay(125, stop);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException) { }
    }

    [Fact]
    public async Task A_slowly_dripped_body_is_cut_off()
    {
        await using var api = await AdminServer.StartAsync(world.Node, Loopback(2), null);
        using var client = new TcpClient();
        await client.ConnectAsync(api.Address);
        var stream = client.GetStream();
        await stream.WriteAsync(PutHeaders(api.Address));
        var started = Stopwatch.StartNew();

        // 200 bytes every 200 ms (about 1 KB/s): Kestrel's default minimum (240 B/s) lets that go on for the
        // hour a 4 MB body takes; ours wants 8 KiB/s after a 5 s grace period.
        var cut = false;
        while (started.Elapsed < TimeSpan.FromSeconds(60))
        {
            try
            {
                await stream.WriteAsync(new byte[200]);
                if (client.Client.Poll(0, SelectMode.SelectRead) && (client.Available == 0 || await ReadsCloseAsync(stream)))
                {
                    cut = true;
                    break;
                }
            }
            catch (IOException)
            {
                cut = true;
                break;
            }
            await Task.Delay(200);
        }
        Assert.True(cut, $"the dripping client was still connected after {started.Elapsed}");
        output.WriteLine($"slow body cut off after {started.Elapsed.TotalSeconds:0.0}s");
        // The grace period is 5 s; then the rate is checked once a second.
        Assert.InRange(started.Elapsed, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(30));

        // The API still serves everyone else.
        using var http = new HttpClient { BaseAddress = new Uri(api.Url), Timeout = Patience };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
    }

    /// <summary>Reads what the server sent before it closed (a 408, say); true once the stream ends.</summary>
    private static async Task<bool> ReadsCloseAsync(Stream stream)
    {
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            while (await stream.ReadAsync(buffer, timeout.Token) > 0) { }
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [Theory]
    [InlineData("evil.example", HttpStatusCode.MisdirectedRequest)]
    [InlineData("127.0.0.1", HttpStatusCode.MisdirectedRequest)]
    [InlineData("localhost", HttpStatusCode.OK)]
    [InlineData("", HttpStatusCode.OK)] // the API's own address
    public async Task On_loopback_the_Host_header_must_name_the_API(string host, HttpStatusCode expected)
    {
        await using var api = await AdminServer.StartAsync(world.Node, Loopback(3), null);
        using var http = new HttpClient { BaseAddress = new Uri(api.Url), Timeout = Patience };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/status");
        request.Headers.Host = host.Length == 0 ? api.Address.ToString() : $"{host}:{api.Address.Port}";

        using var response = await http.SendAsync(request);

        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task A_token_on_loopback_is_enforced_and_failures_are_logged_without_it()
    {
        const string token = "loopback-token-4711";
        const string guess = "guessed-token-0815";
        await using var api = await AdminServer.StartAsync(world.Node, Loopback(4), token);
        using var http = new HttpClient { BaseAddress = new Uri(api.Url), Timeout = Patience };

        using var none = await http.GetAsync("/v1/status");
        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/v1/status") { Headers = { { "Authorization", $"Bearer {guess}" } } };
        using var wrongResponse = await http.SendAsync(wrong);
        using var right = new HttpRequestMessage(HttpMethod.Get, "/v1/status") { Headers = { { "Authorization", $"Bearer {token}" } } };
        using var rightResponse = await http.SendAsync(right);

        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongResponse.StatusCode);
        Assert.Equal(HttpStatusCode.OK, rightResponse.StatusCode);
        // The client's first refusal is logged at once, the rest of the interval in one line at its end.
        api.Refusals.Flush();
        await EventuallyAsync(() => Task.FromResult(world.Warnings.Any(w => w.Contains("1 × wrong bearer token"))), "the wrong token's refusal is logged");
        var refusals = world.Warnings.Where(w => w.Contains("admin API: refused")).ToList();
        Assert.Contains(refusals, w => w.Contains("no Authorization header"));
        Assert.All(refusals, w => Assert.False(w.Contains(guess) || w.Contains(token), w));
    }

    [Fact]
    public async Task The_login_form_reads_only_a_small_body_and_logs_a_wrong_token_without_it()
    {
        const string token = "login-token-4711";
        const string guess = "login-guess-0815";
        await using var api = await AdminServer.StartAsync(world.Node, Loopback(7), token);
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(api.Url), Timeout = Patience };

        using var huge = await http.PostAsync("/login", new FormUrlEncodedContent([new("token", new string('x', 1_000_000))]));
        using var wrong = await http.PostAsync("/login", new FormUrlEncodedContent([new("token", guess)]));
        using var right = await http.PostAsync("/login", new FormUrlEncodedContent([new("token", token)]));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, right.StatusCode);
        Assert.Contains(right.Headers.GetValues("Set-Cookie"), c => c.StartsWith(SessionCookie.Name + "=", StringComparison.Ordinal) && !c.Contains(token));
        api.Refusals.Flush();
        await EventuallyAsync(() => Task.FromResult(world.Warnings.Any(w => w.Contains("1 × wrong token (login form)"))), "the wrong login is logged");
        Assert.All(world.Warnings, w => Assert.False(w.Contains(guess) || w.Contains(token), w));
    }

    [Fact]
    public async Task With_a_certificate_the_API_serves_HTTPS_only()
    {
        var certificate = NewCa("admin");
        await using var api = await AdminServer.StartAsync(world.Node, Loopback(5), null, certificate);
        Assert.StartsWith("https://", api.Url);
        using var handler = new HttpClientHandler
        {
            // The client pins the API's certificate (what a user does with --admin-cert's certificate).
            ServerCertificateCustomValidationCallback = (_, presented, _, _) => presented?.RawData.SequenceEqual(certificate.RawData) == true,
        };
        using var https = new HttpClient(handler) { BaseAddress = new Uri(api.Url), Timeout = Patience };
        using var plain = new HttpClient { BaseAddress = new Uri($"http://{api.Address}"), Timeout = Patience };

        Assert.Equal(HttpStatusCode.OK, (await https.GetAsync("/healthz")).StatusCode);
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => plain.GetAsync("/healthz"));
    }

    [Fact]
    public async Task Writes_past_the_limit_are_answered_429()
    {
        await using var api = await AdminServer.StartAsync(world.Node, Loopback(6), null);
        // Writers whose 4 MB bodies are still arriving hold their slots. Each asks "Expect: 100-continue", which
        // Kestrel answers when the handler starts reading the body, after the slot was taken: the fifth write is
        // tried only once every holder has its slot. Then they send faster than the minimum body rate (8 KiB/s),
        // so Kestrel does not cut them after the rate's 5 s grace period while the test looks.
        var holders = new List<TcpClient>();
        using var stop = new CancellationTokenSource();
        var drips = new List<Task>();
        try
        {
            for (var i = 0; i < AdminServer.MaxConcurrentWrites; i++)
            {
                var holder = new TcpClient();
                holders.Add(holder);
                await holder.ConnectAsync(api.Address);
                var stream = holder.GetStream();
                await stream.WriteAsync(PutHeaders(api.Address, expectContinue: true));
                Assert.StartsWith("HTTP/1.1 100", await ReadHeadAsync(stream));
                drips.Add(Task.Run(() => DripAsync(stream, stop.Token)));
            }
            using var http = new HttpClient { BaseAddress = new Uri(api.Url), Timeout = Patience };
            HttpStatusCode status = 0;
            await EventuallyAsync(async () =>
            {
                using var response = await http.PutAsync("/v1/config", new StringContent("kind: Nope\n", Encoding.UTF8, "application/yaml"));
                status = response.StatusCode;
                if (status == HttpStatusCode.TooManyRequests) Assert.Equal("1", response.Headers.RetryAfter?.ToString());
                return status == HttpStatusCode.TooManyRequests;
            }, () => $"a fifth write is refused with 429 (got {(int)status})", TimeSpan.FromSeconds(4));
        }
        finally
        {
            await stop.CancelAsync();
            foreach (var holder in holders) holder.Dispose();
            await Task.WhenAll(drips);
        }
        // Slots come back when their writers go.
        using var after = new HttpClient { BaseAddress = new Uri(api.Url), Timeout = Patience };
        await EventuallyAsync(async () =>
        {
            using var response = await after.PutAsync("/v1/config", new StringContent("kind: Nope\n", Encoding.UTF8, "application/yaml"));
            return response.StatusCode == HttpStatusCode.BadRequest;
        }, "a write is taken (and rejected as invalid) once the holders have gone", TimeSpan.FromSeconds(20));
    }
}
