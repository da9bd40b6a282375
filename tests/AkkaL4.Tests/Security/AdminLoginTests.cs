using System.Net;
using System.Net.Http.Headers;
using System.Text;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;
using static AkkaL4.Tests.Security.SecurityKit;

namespace AkkaL4.Tests.Security;

/// <summary>One node on 127.160.0.1 for the login tests; its log warnings are collected.</summary>
public sealed class AdminLoginWorld() : WarningsWorld("admin-login", "127.160.0.1");

/// <summary>
/// The admin API's login over real sockets on 127.160.x.x: failed token attempts limited per client address (429 with
/// Retry-After, the right token still good from other addresses, one log line per client and interval), the status
/// page's cookie (a MAC with an expiry, not the token; another token voids it; logout clears it) and the security
/// headers of every answer. APIs on 127.160.1.x, clients on 127.160.2.x.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class AdminLoginTests(AdminLoginWorld world) : IClassFixture<AdminLoginWorld>
{
    private const string Token = "login-limit-token-4711";
    private static IPEndPoint Api(int last) => new(IPAddress.Parse($"127.160.1.{last}"), 0);

    private static HttpRequestMessage Get(string path, string? bearer = null, string? cookie = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        if (cookie is not null) request.Headers.Add("Cookie", cookie);
        return request;
    }

    private static async Task<HttpResponseMessage> LoginAsync(HttpClient http, string token) =>
        await http.PostAsync("/login", new FormUrlEncodedContent([new("token", token)]));

    private List<string> LinesAbout(string client) => world.Warnings.Where(w => w.Contains($"from {client}")).ToList();

    [Fact]
    public async Task Failed_token_attempts_are_limited_per_client_while_the_right_token_works_from_elsewhere()
    {
        await using var api = await AdminServer.StartAsync(world.Node, Api(1), Token);
        using var attacker = HttpFrom("127.160.2.1", api.Url);
        using var other = HttpFrom("127.160.2.2", api.Url);

        for (var i = 0; i < FailedAttempts.Burst; i++)
        {
            using var wrong = await attacker.SendAsync(Get("/v1/status", bearer: $"guess-{i}"));
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }
        // The allowance is used up: refused unchecked, the right token too (else the guessing would go on), and the form.
        using var limited = await attacker.SendAsync(Get("/v1/status", bearer: "guess-10"));
        using var rightButLimited = await attacker.SendAsync(Get("/v1/status", bearer: Token));
        using var formLimited = await LoginAsync(attacker, Token);
        foreach (var response in new[] { limited, rightButLimited, formLimited })
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            Assert.InRange(response.Headers.RetryAfter?.Delta?.TotalSeconds ?? 0, 1, FailedAttempts.MaxRefill.TotalSeconds);
        }
        Assert.Contains("too many failed token attempts", await formLimited.Content.ReadAsStringAsync());
        // Without a token to check, the locked-out client still gets the plain 401 (and no attempt is used).
        using var none = await attacker.SendAsync(Get("/v1/status"));
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);

        // Another address: the right token works, and a wrong one is that client's own first failure (401, not 429).
        using var right = await other.SendAsync(Get("/v1/status", bearer: Token));
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        using var otherWrong = await other.SendAsync(Get("/v1/status", bearer: "typo"));
        Assert.Equal(HttpStatusCode.Unauthorized, otherWrong.StatusCode);
        using var otherLogin = await LoginAsync(other, Token);
        Assert.Equal(HttpStatusCode.Redirect, otherLogin.StatusCode);

        // The log: one line for the attacker's first refusal, the other 13 counted into one line at the interval's end.
        await EventuallyAsync(() => Task.FromResult(LinesAbout("127.160.2.1").Count == 1), "the attacker's first refusal is logged at once");
        for (var i = 0; i < 50; i++)
        {
            using var more = await attacker.SendAsync(Get("/v1/config", bearer: $"more-{i}"));
            Assert.Equal(HttpStatusCode.TooManyRequests, more.StatusCode);
        }
        Assert.Single(LinesAbout("127.160.2.1"));
        api.Refusals.Flush();
        await EventuallyAsync(() => Task.FromResult(LinesAbout("127.160.2.1").Count == 2), () => $"one line with the interval's count: {string.Join(" | ", LinesAbout("127.160.2.1"))}");
        var summary = LinesAbout("127.160.2.1")[1];
        Assert.Contains("refused 63 request(s) from 127.160.2.1 in the last 60s", summary);
        Assert.Contains("9 × wrong bearer token", summary);
        Assert.Contains("53 × too many failed token attempts (429)", summary);
        Assert.Contains("1 × no Authorization header", summary);
        Assert.All(world.Warnings, w => Assert.DoesNotContain(Token, w));

        // Still attacking in the next interval: no line at once (it was named in the last one), one at the end.
        for (var i = 0; i < 20; i++)
        {
            using var more = await attacker.SendAsync(Get("/v1/status", bearer: $"again-{i}"));
            Assert.Equal(HttpStatusCode.TooManyRequests, more.StatusCode);
        }
        Assert.Equal(2, LinesAbout("127.160.2.1").Count);
        api.Refusals.Flush();
        await EventuallyAsync(() => Task.FromResult(LinesAbout("127.160.2.1").Count == 3), "the next interval's line");
        Assert.Contains("refused 20 request(s) from 127.160.2.1", LinesAbout("127.160.2.1")[2]);
        // The other client's one typo was a line of its own, at once.
        Assert.Single(LinesAbout("127.160.2.2"), w => w.Contains("wrong bearer token"));
    }

    [Fact]
    public async Task Neighbours_using_up_their_networks_share_do_not_lock_out_a_host_that_gave_the_right_token_and_their_guesses_stay_bounded()
    {
        // Loopback is one network (any local process can send from millions of 127.x addresses), as an IPv6 /64 is: API on
        // 127.160.70.1, the admin on 127.160.71.1, sixty attacker addresses on 127.160.72.x, a stranger on 127.160.73.1.
        var block = AddressBlocks.Of(160);
        await using var api = await AdminServer.StartAsync(world.Node, block.At(70, 1, 0), Token);
        using var admin = HttpFrom(block.Host(71, 1), api.Url);
        using (var first = await admin.SendAsync(Get("/v1/status", bearer: Token))) Assert.Equal(HttpStatusCode.OK, first.StatusCode);

        var started = DateTime.UtcNow;
        var statuses = new List<HttpStatusCode>();
        for (var i = 1; i <= 60; i++)
        {
            using var attacker = HttpFrom(block.Host(72, i), api.Url);
            using (var bearer = await attacker.SendAsync(Get("/v1/status", bearer: $"guess-{i}"))) statuses.Add(bearer.StatusCode);
            using (var form = await LoginAsync(attacker, $"form-guess-{i}")) statuses.Add(form.StatusCode);
        }
        var elapsed = DateTime.UtcNow - started;
        var checkedGuesses = statuses.Count(x => x == HttpStatusCode.Unauthorized);
        // The network's share, and at most what it earned back meanwhile: 120 guesses from 60 addresses, not 60 × 10.
        Assert.InRange(checkedGuesses, FailedAttempts.NetworkBurst, FailedAttempts.NetworkBurst + 1 + (int)(elapsed / FailedAttempts.Refill));
        Assert.Equal(statuses.Count, checkedGuesses + statuses.Count(x => x == HttpStatusCode.TooManyRequests));
        // A stranger that never failed cannot be told from the attacker's next address: it waits (README says so). Asked
        // at once: the share, emptied more than once, earns an attempt back only after 10 s or more.
        using var stranger = HttpFrom(block.Host(73, 1), api.Url);
        using (var refused = await stranger.SendAsync(Get("/v1/status", bearer: Token))) Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);

        // The admin gave the right token before: its own allowance decides, the right token and the form still work.
        using (var right = await admin.SendAsync(Get("/v1/status", bearer: Token))) Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        using (var login = await LoginAsync(admin, Token)) Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        // The trusted host's own wrong tokens are bounded by its own allowance.
        var own = new List<HttpStatusCode>();
        for (var i = 0; i < FailedAttempts.Burst + 3; i++)
        {
            using var wrong = await admin.SendAsync(Get("/v1/status", bearer: $"typo-{i}"));
            own.Add(wrong.StatusCode);
        }
        Assert.InRange(own.Count(x => x == HttpStatusCode.Unauthorized), FailedAttempts.Burst, FailedAttempts.Burst + 1);
        Assert.Equal(HttpStatusCode.TooManyRequests, own[^1]);
    }

    [Fact]
    public async Task The_status_page_cookie_is_a_MAC_with_an_expiry_good_for_reads_on_every_API_with_the_same_token()
    {
        await using var api = await AdminServer.StartAsync(world.Node, Api(2), Token);
        await using var sameToken = await AdminServer.StartAsync(world.Node, Api(3), Token);
        await using var newToken = await AdminServer.StartAsync(world.Node, Api(4), Token + "-rotated");
        using var http = HttpFrom("127.160.2.3", api.Url);

        using var login = await LoginAsync(http, Token);
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        var setCookie = Assert.Single(login.Headers.GetValues("Set-Cookie"));
        var attributes = setCookie.Split(';', StringSplitOptions.TrimEntries).ToList();
        var cookie = attributes[0];
        Assert.StartsWith(SessionCookie.Name + "=v1.", cookie);
        Assert.DoesNotContain(Token, cookie);
        Assert.Contains("httponly", attributes, StringComparer.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", attributes, StringComparer.OrdinalIgnoreCase);
        Assert.Contains("path=/", attributes, StringComparer.OrdinalIgnoreCase);
        Assert.Contains($"max-age={(int)SessionCookie.Lifetime.TotalSeconds}", attributes, StringComparer.OrdinalIgnoreCase);
        Assert.DoesNotContain("secure", attributes, StringComparer.OrdinalIgnoreCase); // plain HTTP

        using var read = await http.SendAsync(Get("/v1/status", cookie: cookie));
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        using var write = new HttpRequestMessage(HttpMethod.Put, "/v1/config") { Content = new StringContent("kind: Nope\n", Encoding.UTF8, "application/yaml") };
        write.Headers.Add("Cookie", cookie);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(write)).StatusCode);

        // Any node with the token verifies it; a node with another token (a rotation) does not, and asks again.
        using var elsewhere = HttpFrom("127.160.2.3", sameToken.Url);
        Assert.Equal(HttpStatusCode.OK, (await elsewhere.SendAsync(Get("/v1/status", cookie: cookie))).StatusCode);
        using var rotated = HttpFrom("127.160.2.3", newToken.Url);
        Assert.Equal(HttpStatusCode.Unauthorized, (await rotated.SendAsync(Get("/v1/status", cookie: cookie))).StatusCode);
        using var page = await rotated.SendAsync(Get("/", cookie: cookie));
        Assert.Equal(HttpStatusCode.Unauthorized, page.StatusCode);
        Assert.Contains("name=\"token\"", await page.Content.ReadAsStringAsync());

        // A later expiry with the old MAC, or the token itself as the cookie, is refused.
        var parts = cookie[(SessionCookie.Name.Length + 1)..].Split('.');
        var extended = $"{SessionCookie.Name}=v1.{long.Parse(parts[1]) + 86_400}.{parts[2]}";
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(Get("/v1/status", cookie: extended))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(Get("/v1/status", cookie: $"{SessionCookie.Name}={Token}"))).StatusCode);

        // Logout clears it (an expired cookie of the same name and path).
        using var logout = await http.PostAsync("/logout", null);
        Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
        var cleared = Assert.Single(logout.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith(SessionCookie.Name + "=;", cleared);
        Assert.Contains("expires=Thu, 01 Jan 1970", cleared, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/", cleared, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_login_posted_from_another_sites_page_is_refused_without_using_an_attempt()
    {
        await using var api = await AdminServer.StartAsync(world.Node, Api(7), Token);
        using var operatorHttp = HttpFrom("127.160.200.1", api.Url);

        async Task<HttpResponseMessage> PostAsync(string path, string token, params (string Name, string Value)[] headers)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new FormUrlEncodedContent([new("token", token)]) };
            foreach (var (name, value) in headers) request.Headers.Add(name, value);
            return await operatorHttp.SendAsync(request);
        }

        // A hostile page's flood, more than the whole allowance: 403 each, the right token included (it is never checked).
        for (var i = 0; i < FailedAttempts.Burst * 2; i++)
        {
            using var crossSite = await PostAsync("/login", $"guess-{i}", ("Sec-Fetch-Site", "cross-site"));
            using var foreignOrigin = await PostAsync("/login", $"guess-{i}", ("Origin", "http://wiki.example"));
            Assert.Equal(HttpStatusCode.Forbidden, crossSite.StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, foreignOrigin.StatusCode);
        }
        foreach (var headers in new[] { [("Sec-Fetch-Site", "same-site")], [("Sec-Fetch-Site", "cross-site"), ("Origin", api.Url)], new[] { ("Origin", api.Url + ".evil.example") } })
        {
            using var refused = await PostAsync("/login", Token, headers);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }
        using var logout = await PostAsync("/logout", "", ("Sec-Fetch-Site", "cross-site"));
        Assert.Equal(HttpStatusCode.Forbidden, logout.StatusCode);

        // None of it counted: a wrong bearer token is this address's first failure (401, not 429), and the page's own
        // same-origin form logs in (Origin null: what a browser sends under the page's Referrer-Policy no-referrer).
        using var typo = await operatorHttp.SendAsync(Get("/v1/status", bearer: "typo"));
        Assert.Equal(HttpStatusCode.Unauthorized, typo.StatusCode);
        using var own = await PostAsync("/login", Token, ("Sec-Fetch-Site", "same-origin"), ("Origin", "null"));
        Assert.Equal(HttpStatusCode.Redirect, own.StatusCode);
        using var ownOrigin = await PostAsync("/login", Token, ("Origin", api.Url));
        Assert.Equal(HttpStatusCode.Redirect, ownOrigin.StatusCode);
        await EventuallyAsync(() => Task.FromResult(LinesAbout("127.160.200.1").Any(w => w.Contains("Sec-Fetch-Site 'cross-site'"))), "the first refusal is logged with its reason");
    }

    [Fact]
    public async Task A_login_form_that_cannot_be_read_is_a_400_and_a_failed_attempt_never_a_logged_error()
    {
        await using var api = await AdminServer.StartAsync(world.Node, Api(8), Token);
        using var http = HttpFrom("127.160.2.6", api.Url);
        // No boundary, a multipart body that is not one, more fields than a form may have (in under 4 KiB).
        HttpContent[] unreadable =
        [
            new StringContent("x", Encoding.ASCII, "multipart/form-data"),
            new ByteArrayContent(Encoding.ASCII.GetBytes("not multipart at all")) { Headers = { ContentType = MediaTypeHeaderValue.Parse("multipart/form-data; boundary=b") } },
            new StringContent(string.Join("&", Enumerable.Range(0, 1100).Select(i => "a")), Encoding.ASCII, "application/x-www-form-urlencoded"),
        ];
        for (var i = 0; i < FailedAttempts.Burst; i++)
        {
            using var response = await http.PostAsync("/login", unreadable[i % unreadable.Length]);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"form {i % unreadable.Length}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
        // Each was an attempt: the allowance is used up, the right token waits too.
        using var limited = await LoginAsync(http, Token);
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);

        await EventuallyAsync(() => Task.FromResult(LinesAbout("127.160.2.6").Count == 1), "the client's first refusal is logged at once");
        Assert.Contains("a login form that cannot be read (400)", LinesAbout("127.160.2.6")[0]);
        api.Refusals.Flush();
        await EventuallyAsync(() => Task.FromResult(LinesAbout("127.160.2.6").Count == 2), "the interval's count");
        Assert.Contains($"{FailedAttempts.Burst - 1} × a login form that cannot be read (400)", LinesAbout("127.160.2.6")[1]);
        Assert.DoesNotContain(world.Errors, e => e.Contains("admin API"));
    }

    [Fact]
    public async Task Over_HTTPS_the_cookie_is_Secure()
    {
        await using var api = await AdminServer.StartAsync(world.Node, Api(5), Token, NewCa("login-https"));
        using var http = HttpFrom("127.160.2.4", api.Url);
        using var login = await LoginAsync(http, Token);
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Contains("secure", Assert.Single(login.Headers.GetValues("Set-Cookie")).Split(';', StringSplitOptions.TrimEntries), StringComparer.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Every_answer_carries_the_security_headers()
    {
        await using var api = await AdminServer.StartAsync(world.Node, Api(6), Token);
        using var http = HttpFrom("127.160.2.5", api.Url);
        var answers = new List<HttpResponseMessage>
        {
            await http.SendAsync(Get("/", bearer: Token)),
            await http.SendAsync(Get("/v1/status", bearer: Token)),
            await http.SendAsync(Get("/metrics", bearer: Token)),
            await http.SendAsync(Get("/")),            // the login form
            await http.SendAsync(Get("/v1/status")),   // 401
            await http.SendAsync(Get("/healthz")),
        };
        try
        {
            Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.OK],
                answers.Select(a => a.StatusCode));
            foreach (var answer in answers)
            {
                var csp = Assert.Single(answer.Headers.GetValues("Content-Security-Policy"));
                Assert.Contains("default-src 'none'", csp);
                Assert.Contains("frame-ancestors 'none'", csp);
                Assert.Matches("script-src 'sha256-[A-Za-z0-9+/=]+';", csp);
                Assert.DoesNotContain("unsafe-inline", csp);
                Assert.Equal("DENY", Assert.Single(answer.Headers.GetValues("X-Frame-Options")));
                Assert.Equal("nosniff", Assert.Single(answer.Headers.GetValues("X-Content-Type-Options")));
                Assert.Equal("no-referrer", Assert.Single(answer.Headers.GetValues("Referrer-Policy")));
                Assert.True(answer.Headers.CacheControl?.NoStore, $"{answer.RequestMessage?.RequestUri}: Cache-Control {answer.Headers.CacheControl}");
                Assert.False(answer.Headers.Contains("Server"), "no Server header");
            }
        }
        finally
        {
            foreach (var answer in answers) answer.Dispose();
        }
    }
}

/// <summary>The arithmetic of <see cref="FailedAttempts"/> and <see cref="SessionCookie"/> on a clock the test moves.</summary>
[Trait("Category", "Unit")]
public sealed class AdminLoginClockTests
{
    private sealed class Clock : TimeProvider
    {
        public DateTimeOffset Now = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public void An_attempt_counts_a_wrong_token_in_the_same_step_as_its_check_and_a_right_one_not_at_all()
    {
        var attempts = new FailedAttempts(new Clock());
        var client = IPAddress.Parse("192.0.2.70");
        for (var i = 0; i < 3 * FailedAttempts.Burst; i++) Assert.Null(attempts.Attempt(client, right: true));
        for (var i = 0; i < FailedAttempts.Burst; i++) Assert.Null(attempts.Attempt(client, right: false));
        // Used up: refused unchecked, the right token too, and nothing more is counted (the wait stays one refill's).
        var wait = attempts.Attempt(client, right: false);
        Assert.NotNull(wait);
        Assert.Equal(wait, attempts.Attempt(client, right: true));
        Assert.Equal(wait, attempts.Wait(client));
    }

    [Fact]
    public void The_wait_doubles_each_time_the_allowance_runs_out_and_a_client_full_again_is_forgotten()
    {
        var clock = new Clock();
        var attempts = new FailedAttempts(clock);
        var client = IPAddress.Parse("192.0.2.7");

        for (var i = 0; i < FailedAttempts.Burst; i++)
        {
            Assert.Null(attempts.Wait(client));
            attempts.Failed(client);
        }
        // Emptied once: a token every 2 × 5 s; then each failure on a freshly earned token doubles it, up to 5 min.
        var waits = new List<double>();
        for (var round = 0; round < 8; round++)
        {
            var wait = attempts.Wait(client) ?? TimeSpan.Zero;
            waits.Add(wait.TotalSeconds);
            clock.Now += wait;
            Assert.Null(attempts.Wait(client));
            attempts.Failed(client);
        }
        Assert.Equal([10, 20, 40, 80, 160, 300, 300, 300], waits.Select(w => Math.Round(w)));
        // Other clients are not affected, an IPv4-mapped IPv6 address is its IPv4 address.
        Assert.Null(attempts.Wait(IPAddress.Parse("192.0.2.8")));
        Assert.NotNull(attempts.Wait(IPAddress.Parse("::ffff:192.0.2.7")));

        // Quiet until full again (10 tokens at 5 min each): forgotten, and the next failure starts from 5 s per token.
        clock.Now += FailedAttempts.MaxRefill * FailedAttempts.Burst;
        Assert.Null(attempts.Wait(client));
        Assert.Equal(0, attempts.Count);
    }

    [Fact]
    public void An_IPv6_host_has_its_own_attempts_and_its_64_a_larger_share_that_one_host_alone_never_uses_up()
    {
        var clock = new Clock();
        var attempts = new FailedAttempts(clock);
        IPAddress Host(int i) => IPAddress.Parse($"2001:db8::{i:x}");
        var guesser = Host(1);

        // One host's wrong tokens lock out that host, not its /64 (a cloud subnet shared by many hosts).
        for (var i = 0; i < FailedAttempts.Burst; i++)
        {
            Assert.Null(attempts.Wait(guesser));
            attempts.Failed(guesser);
        }
        Assert.NotNull(attempts.Wait(guesser));
        Assert.Null(attempts.Wait(Host(2)));
        // Guessing on for an hour whenever it may: the host's refill slows, the network's keeps up, so its neighbours never wait.
        for (var end = clock.Now + TimeSpan.FromHours(1); clock.Now < end; )
        {
            clock.Now += attempts.Wait(guesser) ?? TimeSpan.Zero;
            attempts.Failed(guesser);
            Assert.Null(attempts.Wait(Host(2)));
        }

        // Many hosts of one /64 share its larger allowance: once it is used up, every host of it waits, other /64s do not.
        var fresh = new FailedAttempts(clock);
        for (var i = 0; i < FailedAttempts.NetworkBurst; i++)
        {
            Assert.Null(fresh.Wait(Host(100 + i)));
            fresh.Failed(Host(100 + i));
        }
        Assert.NotNull(fresh.Wait(IPAddress.Parse("2001:db8::ffff")));
        Assert.Null(fresh.Wait(IPAddress.Parse("2001:db8:0:1::1")));
        // IPv4: the address is the host and its network, with the host's allowance.
        for (var i = 0; i < FailedAttempts.Burst; i++) fresh.Failed(IPAddress.Parse("192.0.2.99"));
        Assert.NotNull(fresh.Wait(IPAddress.Parse("192.0.2.99")));
    }

    [Fact]
    public void A_host_that_gave_the_right_token_is_held_by_its_own_allowance_alone_and_its_64s_guesses_stay_bounded()
    {
        var clock = new Clock();
        var attempts = new FailedAttempts(clock);
        var admin = IPAddress.Parse("2001:db8::a");
        var stranger = IPAddress.Parse("2001:db8::b");
        Assert.Null(attempts.Attempt(admin, right: true));

        // For an hour an attacker guesses whenever the /64 lets it, from a fresh address of the admin's /64 each time.
        var guesses = 0;
        var next = 0x1000;
        for (var end = clock.Now + TimeSpan.FromHours(1); clock.Now < end; )
        {
            if (attempts.Attempt(IPAddress.Parse($"2001:db8::{next++:x}"), right: false) is { } wait) clock.Now += wait;
            else if (++guesses >= FailedAttempts.NetworkBurst) Assert.NotNull(attempts.Attempt(stranger, right: true)); // the /64 is empty
            Assert.Null(attempts.Attempt(admin, right: true));
        }
        // The /64's 40, then one per refill, doubling to 5 min: 10+20+40+80+160 s, then 300 s each (about 56 in the hour).
        Assert.InRange(guesses, FailedAttempts.NetworkBurst, FailedAttempts.NetworkBurst + 5 + (int)(TimeSpan.FromHours(1) / FailedAttempts.MaxRefill));
        Assert.Equal(1, attempts.TrustedCount);

        // The trusted host's own wrong tokens: its own allowance, then it waits too.
        for (var i = 0; i < FailedAttempts.Burst; i++) Assert.Null(attempts.Attempt(admin, right: false));
        Assert.NotNull(attempts.Attempt(admin, right: true));

        // Trust lasts TrustFor after the last right token; then the host is one of its /64 again.
        var later = new FailedAttempts(clock);
        Assert.Null(later.Attempt(admin, right: true));
        clock.Now += FailedAttempts.TrustFor / 2;
        Assert.Null(later.Attempt(admin, right: true));
        clock.Now += FailedAttempts.TrustFor * 0.75;
        for (var i = 0; i < FailedAttempts.NetworkBurst; i++) later.Failed(IPAddress.Parse($"2001:db8::{0x2000 + i:x}"));
        Assert.Null(later.Attempt(admin, right: true));
        clock.Now += FailedAttempts.TrustFor;
        for (var i = 0; i < FailedAttempts.NetworkBurst; i++) later.Failed(IPAddress.Parse($"2001:db8::{0x3000 + i:x}"));
        Assert.NotNull(later.Attempt(admin, right: true));
    }

    [Fact]
    public void A_trusted_host_full_again_starts_its_refill_over_as_a_stranger_does()
    {
        var clock = new Clock();
        var attempts = new FailedAttempts(clock);
        var admin = IPAddress.Parse("192.0.2.10");
        var stranger = IPAddress.Parse("192.0.2.20");
        Assert.Null(attempts.Attempt(admin, right: true));
        // Bursts of typos a day apart (each allowance full again in between), the admin logging in each day (renewing its trust).
        for (var burst = 0; burst < 7; burst++)
        {
            for (var i = 0; i < FailedAttempts.Burst; i++)
            {
                Assert.Null(attempts.Attempt(admin, right: false));
                Assert.Null(attempts.Attempt(stranger, right: false));
            }
            // Emptied once since last full: one token per 2 x 5 s for both, never the doublings of all the bursts (review2-s10 #1).
            Assert.Equal(TimeSpan.FromSeconds(10), attempts.Wait(stranger));
            Assert.Equal(TimeSpan.FromSeconds(10), attempts.Wait(admin));
            clock.Now += TimeSpan.FromDays(1);
            Assert.Null(attempts.Attempt(admin, right: true));
        }
        // Still bounded: guessing on whenever it may, the trusted host's refill doubles to 5 min as anyone's does.
        var waits = new List<double>();
        for (var i = 0; i < FailedAttempts.Burst; i++) attempts.Failed(admin);
        for (var round = 0; round < 7; round++)
        {
            var wait = attempts.Wait(admin) ?? TimeSpan.Zero;
            waits.Add(Math.Round(wait.TotalSeconds));
            clock.Now += wait;
            Assert.Null(attempts.Attempt(admin, right: false));
        }
        Assert.Equal([10, 20, 40, 80, 160, 300, 300], waits);
    }

    [Fact]
    public void Loopback_is_one_network_of_many_hosts_and_the_trusted_hosts_are_bounded()
    {
        var clock = new Clock();
        var attempts = new FailedAttempts(clock);
        // A local process can send from any 127.x address: they share one allowance (::1 with them), each host its own inside it.
        var checkedGuesses = Enumerable.Range(1, 100).Count(i => attempts.Attempt(IPAddress.Parse($"127.0.{i}.1"), right: false) is null);
        Assert.Equal(FailedAttempts.NetworkBurst, checkedGuesses);
        Assert.NotNull(attempts.Wait(IPAddress.IPv6Loopback));
        Assert.NotNull(attempts.Wait(IPAddress.Parse("::ffff:127.0.0.1")));
        Assert.Null(attempts.Wait(IPAddress.Parse("192.0.2.1")));

        // Only a right token adds a trusted host, and no more than MaxClients are kept.
        var fresh = new FailedAttempts(clock);
        for (var i = 0; i < FailedAttempts.MaxClients + 100; i++)
            Assert.Null(fresh.Attempt(new IPAddress([0x20, 0x01, 0x0d, 0xb8, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, (byte)(i >> 8), (byte)i]), right: true));
        Assert.Equal(FailedAttempts.MaxClients, fresh.TrustedCount);
    }

    [Fact]
    public void The_clients_remembered_are_bounded()
    {
        var clock = new Clock();
        var attempts = new FailedAttempts(clock);
        for (var i = 0; i < FailedAttempts.NetworkBurst; i++) attempts.Failed(IPAddress.Parse($"2001:db8::{i + 1:x}"));
        Assert.NotNull(attempts.Wait(IPAddress.Parse("2001:db8::ffff")));
        Assert.Null(attempts.Wait(IPAddress.Parse("2001:db8:0:1::1")));

        // Past the bound, no client still waiting is forgotten (that would give it a fresh allowance): the ones not in the
        // table share one overflow bucket, locked out for unknown clients only; a known client with attempts left still tries.
        static IPAddress V4(int i) => new(BitConverter.GetBytes(0x0A000000 + i).Reverse().ToArray());
        var known = IPAddress.Parse("192.0.2.1");
        for (var j = 0; j < FailedAttempts.Burst / 2; j++) attempts.Failed(known);
        for (var i = 0; i < FailedAttempts.MaxClients + 100; i++)
        {
            clock.Now += TimeSpan.FromTicks(1_000); // 0.1 ms: about 1 s in all, so no one earns an attempt back meanwhile
            for (var j = 0; j < FailedAttempts.Burst; j++) attempts.Failed(V4(i));
        }
        Assert.Equal(FailedAttempts.MaxClients, attempts.Count);
        Assert.NotNull(attempts.Wait(IPAddress.Parse("2001:db8::1")));
        Assert.NotNull(attempts.Wait(V4(0)));
        Assert.NotNull(attempts.Wait(V4(FailedAttempts.MaxClients / 2)));
        Assert.NotNull(attempts.Wait(V4(FailedAttempts.MaxClients + 99)));
        Assert.NotNull(attempts.Wait(IPAddress.Parse("198.51.100.1"))); // never seen: the overflow's wait
        Assert.Null(attempts.Wait(known));

        // Once the waiting clients are full again, a sweep (at most once per interval) makes room for new ones.
        clock.Now += FailedAttempts.MaxRefill * FailedAttempts.Burst;
        attempts.Failed(IPAddress.Parse("198.51.100.1"));
        Assert.Equal(1, attempts.Count);
        Assert.Null(attempts.Wait(IPAddress.Parse("198.51.100.2")));

        // IPv6 hosts are bounded too; one that finds their table full is held by its /64 alone.
        for (var i = 0; i < FailedAttempts.MaxClients + 100; i++) attempts.Failed(new IPAddress([0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, (byte)(i >> 8), (byte)i]));
        Assert.Equal(FailedAttempts.MaxClients, attempts.HostCount);
        Assert.NotNull(attempts.Wait(IPAddress.Parse("2001:db8:2::ffff:1")));
    }

    [Fact]
    public void A_cookie_expires_and_is_bound_to_the_token()
    {
        var clock = new Clock();
        var cookie = new SessionCookie("a-token", clock).Issue();

        Assert.Equal(SessionCookie.Verdict.Valid, new SessionCookie("a-token", clock).Check(cookie));
        Assert.Equal(SessionCookie.Verdict.Invalid, new SessionCookie("another-token", clock).Check(cookie));
        Assert.Equal(SessionCookie.Verdict.Invalid, new SessionCookie("a-token", clock).Check(cookie + "x"));
        Assert.Equal(SessionCookie.Verdict.Invalid, new SessionCookie("a-token", clock).Check("v1.99999999999999999999999.x"));
        clock.Now += SessionCookie.Lifetime - TimeSpan.FromSeconds(1);
        Assert.Equal(SessionCookie.Verdict.Valid, new SessionCookie("a-token", clock).Check(cookie));
        clock.Now += TimeSpan.FromSeconds(1);
        Assert.Equal(SessionCookie.Verdict.Expired, new SessionCookie("a-token", clock).Check(cookie));
    }
}
