using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using AkkaL4.Actors;
using AkkaL4.Actors.Config;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Queries;

namespace AkkaL4.Node.Admin;

/// <summary>
/// The admin HTTP API of one node: configuration writes and reads, explain, status, Prometheus
/// metrics, health and readiness. Loopback by default; a bearer token is mandatory elsewhere (and optional
/// on loopback), HTTPS with a certificate; on loopback the Host header must name the API (no DNS rebinding).
/// </summary>
public sealed class AdminServer : IAsyncDisposable
{
    public const int MaxConfigBytes = 4 * 1024 * 1024;
    /// <summary>
    /// Resources one <c>POST /v1/config/delete</c> may name: as many as a manifest may hold documents. Each key costs the
    /// writer a lookup and, when missing, a diagnostic in one refusal; 4 MiB of keys were ~170,000 (sec14 B1).
    /// </summary>
    public static readonly int MaxDeleteBatch = DecodeLimits.Default.MaxDocuments;
    private static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(10);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>Connections the API holds open at once from other hosts; more are refused.</summary>
    public const int MaxConnections = 256;
    /// <summary>
    /// Connections beyond <see cref="MaxConnections"/> kept for clients on the node's own host, so that other hosts holding
    /// every slot cannot fail its probes: loopback (all of it one client, <see cref="PerClientConnections"/>) and the API's
    /// own address (the image's HEALTHCHECK), each its share, so neither can take the other's place either.
    /// </summary>
    public const int LocalReserve = 2 * MaxConnectionsPerClient;
    /// <summary>Connections one client address (<see cref="ClientNetwork.Host"/>; all of loopback is one) holds at once: the slots are taken before any token is checked.</summary>
    public const int MaxConnectionsPerClient = 32;
    /// <summary>Connections one IPv6 /64 (<see cref="ClientNetwork.Of"/>) holds at once: its many addresses cannot take every slot,
    /// and one host cannot lock out the rest of its (cloud) subnet.</summary>
    public const int MaxConnectionsPerNetwork = 128;
    /// <summary>Writes (PUT, DELETE) in progress at once, body reading included; more are answered 429.</summary>
    public const int MaxConcurrentWrites = 4;
    /// <summary>A request body must arrive at least this fast (after a grace period), else the connection is cut.</summary>
    public const int MinBodyBytesPerSecond = 8 * 1024;
    /// <summary>The longest a write may take, body and answer together.</summary>
    public static readonly TimeSpan WriteDeadline = TimeSpan.FromSeconds(60);

    private readonly KestrelHost _app;
    private readonly AdminEndpoints _endpoints;

    public IPEndPoint Address { get; }
    /// <summary>http://IP:PORT, or https:// with a certificate.</summary>
    public string Url { get; }
    /// <summary>The refusals' log (tests end its interval).</summary>
    internal RefusalLog Refusals { get; }

    private AdminServer(KestrelHost app, IPEndPoint address, bool https, RefusalLog refusals, AdminEndpoints endpoints)
    {
        _app = app;
        _endpoints = endpoints;
        Address = address;
        Url = $"{(https ? "https" : "http")}://{address}";
        Refusals = refusals;
    }

    /// <summary>
    /// What <c>/v1/status</c>, the status page and <c>/readyz</c> ask the node's actors, each Ask bounded by its own timeout
    /// (an <see cref="AskTimeoutException"/> when it passes); <see cref="NodeQueries.What"/> names them in an answer saying
    /// which did not answer. Tests put in one that does not answer.
    /// </summary>
    internal sealed record NodeQueries(
        Func<Task<IReadOnlyList<ListenerSet.ListenerStatus>>> Listeners,
        Func<Task<IReadOnlyDictionary<string, MemberRevision>>> MemberRevisions)
    {
        public static NodeQueries Of(RouterNode node) => new(node.ListenersAsync, node.MemberRevisionsAsync);

        public static class What
        {
            public const string DataPlane = "the data plane (its listeners)";
            public const string Membership = "membership (the revisions replicated per member)";
        }
    }

    /// <param name="certificate">With its private key: the API serves HTTPS only (null: plain HTTP).</param>
    /// <exception cref="ArgumentException">The token is refused for this address (<see cref="TokenRefusal"/>).</exception>
    public static Task<AdminServer> StartAsync(RouterNode node, IPEndPoint address, string? token, X509Certificate2? certificate = null) =>
        StartAsync(node, address, token, certificate, NodeQueries.Of(node));

    internal static async Task<AdminServer> StartAsync(RouterNode node, IPEndPoint address, string? token, X509Certificate2? certificate, NodeQueries queries)
    {
        if (TokenRefusal(address, token) is { } refusal) throw new ArgumentException(refusal);

        // Kestrel's core without a host: no appsettings files (nor their file watcher), environment or command-line
        // configuration, console logging, host filtering, HTTP/3 (QUIC) or endpoint routing (AdminEndpoints matches the
        // routes), none of which the API uses, and each of which is code mapped and compiled in every node
        // (bench/README.md, "Memory" and "Memory, session 11").
        var perClient = new PerClientConnections(node.System.Log);
        var app = new KestrelHost(k =>
        {
            k.Listen(address, listen =>
            {
                // Before TLS: a client over its share costs no handshake.
                listen.Use(next => connection => perClient.ServeAsync(connection, next));
                if (certificate is not null) listen.UseHttps(certificate);
                // HTTP/1.1 only: nothing here needs HTTP/2, whose framing (HPACK, streams) is more to defend, and the
                // answers Kestrel writes itself get the security headers on the way out (SecurityHeaders.ConnectionOutput).
                listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1;
                listen.Use(next => connection =>
                {
                    var output = new SecurityHeaders.ConnectionOutput(connection.Transport.Output);
                    connection.Transport = new SecurityHeaders.Duplex(connection.Transport, output);
                    connection.Features.Set(output);
                    return next(connection);
                });
            });
            k.Limits.MaxRequestBodySize = MaxConfigBytes + 1;
            // Kestrel's defaults let a client hold any number of connections and drip a 4 MiB body at 240 B/s for hours.
            k.Limits.MaxConcurrentConnections = MaxConnections + LocalReserve;
            k.Limits.MaxConcurrentUpgradedConnections = 0;
            k.Limits.MinRequestBodyDataRate = new Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate(MinBodyBytesPerSecond, gracePeriod: TimeSpan.FromSeconds(5));
            k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
            k.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(30);
            k.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
            k.AddServerHeader = false;
        });
        var log = node.System.Log;
        var port = address.Port; // the bound one once started (port 0 = any)
        var refusals = new RefusalLog(log, TimeProvider.System);
        app.Owns(refusals);
        var failures = new FailureLog(log, TimeProvider.System);
        app.Owns(failures);

        // On every answer, set before anything is written. A handler that throws is answered here, headers and all
        // (Kestrel's own 500 would drop them, and log nowhere: its logging has no provider), logged through a
        // throttle: anyone may send requests, so no client drives the log's rate.
        app.Pipeline.Use(async (context, next) =>
        {
            if (context.Features.Get<SecurityHeaders.ConnectionOutput>() is { } output)
            {
                output.RequestStarted();
                context.Response.OnCompleted(() =>
                {
                    output.RequestEnded();
                    return Task.CompletedTask;
                });
            }
            SecurityHeaders.Set(context.Response.Headers);
            try
            {
                await next(context);
            }
            catch (Exception e) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
            {
                var bad = e as BadHttpRequestException;
                if (bad is null) failures.Failed(e, $"{context.Request.Method} {context.Request.Path}");
                context.Response.Clear();
                SecurityHeaders.Set(context.Response.Headers);
                context.Response.StatusCode = bad?.StatusCode ?? StatusCodes.Status500InternalServerError;
                await context.Response.WriteAsJsonAsync(new { error = bad?.Message ?? "the request failed on this node (its log says why)" }, Json);
            }
        });

        if (IPAddress.IsLoopback(address.Address))
        {
            // DNS rebinding: a web page whose host name resolves to 127.0.0.1 must not reach the API through
            // the browser. Such a request names the page's host; tools name the address (or localhost).
            var ip = address.Address.ToString();
            var allowed = new[] { address.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ip}]" : ip, "localhost" };
            app.Pipeline.Use(async (context, next) =>
            {
                var host = context.Request.Host;
                if (host.HasValue && allowed.Contains(host.Host, StringComparer.OrdinalIgnoreCase) && (host.Port is null || host.Port == port))
                {
                    await next(context);
                    return;
                }
                refusals.Refused(context.Connection.RemoteIpAddress, $"{context.Request.Method} {context.Request.Path}",
                    $"Host header '{Diagnostic.Quote(host.Value ?? "")}' is not this loopback API's address");
                context.Response.StatusCode = StatusCodes.Status421MisdirectedRequest;
                await context.Response.WriteAsJsonAsync(new { error = $"Host must be {address.Address}:{port} or localhost:{port}" }, Json);
            });
        }

        // Writes from another site's page. A browser sends a form post, or a fetch in no-cors mode, to any address without
        // asking first (no CORS preflight), with the operator's own address and the Host the page named: to a loopback API
        // without a token (the default, compose's too, or one reached through an SSH tunnel) nothing else would stop a web
        // page deleting the configuration, nor, with a token, using up the operator's login attempts. Refused before the
        // token is looked at. The status page's own forms are same-origin; the CLI and scripts send neither header.
        app.Pipeline.Use(async (context, next) =>
        {
            var request = context.Request;
            if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || CrossSite(request) is not { } why)
            {
                await next(context);
                return;
            }
            refusals.Refused(context.Connection.RemoteIpAddress, $"{request.Method} {request.Path}", $"{why} (403, no attempt used)");
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsJsonAsync(new { error = "a write, login or logout from another site's page is refused" }, Json);
        });

        if (!string.IsNullOrEmpty(token))
        {
            var attempts = new FailedAttempts(TimeProvider.System);
            var session = new SessionCookie(token, TimeProvider.System);
            app.Pipeline.Use(async (context, next) =>
            {
                var request = context.Request;
                var client = context.Connection.RemoteIpAddress ?? IPAddress.None;
                var authorization = request.Headers.Authorization.ToString();
                var reading = HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method);
                var login = request.Path == "/login" && HttpMethods.IsPost(request.Method);
                if (request.Path.StartsWithSegments("/healthz") || request.Path.StartsWithSegments("/readyz") || request.Path == "/logout")
                {
                    await next(context);
                    return;
                }
                // A bearer token is checked and, when wrong, counted in one step: from a client that has used up its
                // attempts it is refused unchecked (else it guesses on), right or wrong.
                var bearer = authorization.Length > 0 ? HasToken(authorization, token) : (bool?)null;
                if (bearer is { } right && attempts.Attempt(client, right) is { } wait)
                {
                    await TooManyAttempts(context, client, wait, login, refusals);
                    return;
                }
                if (bearer == true)
                {
                    await next(context);
                    return;
                }
                // A browser cannot send a bearer token: the status page's cookie, for reads only (writes still need the header).
                var cookie = request.Cookies.TryGetValue(SessionCookie.Name, out var value) ? session.Check(value) : (SessionCookie.Verdict?)null;
                if (reading && authorization.Length == 0 && cookie == SessionCookie.Verdict.Valid)
                {
                    await next(context);
                    return;
                }
                if (login)
                {
                    await Login(context, token, session, certificate is not null, attempts, refusals);
                    return;
                }
                // Which way it failed, never the token (or what was sent in its place). A cookie that is not valid is
                // no guess at the token (it is a MAC, not the token): refused, but no attempt used.
                var reason = authorization.Length > 0 ? (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? "wrong bearer token" : "not a bearer token")
                    : cookie is { } verdict ? (verdict == SessionCookie.Verdict.Expired ? "status-page login expired" : "status-page cookie not valid (issued under another token?)")
                    : "no Authorization header";
                refusals.Refused(client, $"{request.Method} {request.Path}", reason);
                if (request.Path == "/" && reading)
                {
                    await WriteLogin(context, cookie == SessionCookie.Verdict.Expired ? "Your login has expired: give the token again." : "", StatusCodes.Status401Unauthorized);
                    return;
                }
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                context.Response.Headers.WWWAuthenticate = "Bearer";
                await context.Response.WriteAsJsonAsync(new { error = "a bearer token is required (Authorization: Bearer <token>)" }, Json);
            });
        }

        // Every write goes to the cluster's one config writer anyway: a few at a time is plenty, and a slot is
        // taken before the body is read, so slow or huge bodies cannot pile up.
        var writes = new SemaphoreSlim(MaxConcurrentWrites);
        app.Pipeline.Use(async (context, next) =>
        {
            if (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method))
            {
                await next(context);
                return;
            }
            if (!await writes.WaitAsync(0))
            {
                context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                context.Response.Headers.RetryAfter = "1";
                await context.Response.WriteAsJsonAsync(new { error = $"{MaxConcurrentWrites} writes are in progress; try again" }, Json);
                return;
            }
            try
            {
                using var deadline = new CancellationTokenSource(WriteDeadline);
                await using var abort = deadline.Token.Register(context.Abort);
                await next(context);
            }
            finally
            {
                writes.Release();
            }
        });

        var history = new RevisionHistory(node);
        app.Owns(history);
        var exporter = new PrometheusExporter(node.Metrics, app.Services.GetService<System.Diagnostics.Metrics.IMeterFactory>());
        app.Owns(exporter);
        var endpoints = new AdminEndpoints()
            .Map("PUT", "/v1/config", context => PutConfig(node, context))
            .Map("GET", "/v1/config", context => GetConfig(node, context, Query(context, "kind"), Query(context, "namespace")))
            .Map("DELETE", "/v1/config/{kind}/{namespace}/{name}", (context, values) => Delete(node, context, values[0], values[1], values[2]))
            .Map("POST", "/v1/config/delete", context => DeleteMany(node, context))
            .Map("GET", "/v1/explain", context => Explain(node, Query(context, "source"), Query(context, "destination"), Query(context, "sni")))
            .Map("GET", "/", _ => Page(node, queries, history, loggedIn: !string.IsNullOrEmpty(token)))
            .Map("POST", "/logout", context =>
            {
                context.Response.Cookies.Delete(SessionCookie.Name, SessionCookieOptions(certificate is not null));
                return Results.Redirect("/");
            })
            .Map("GET", "/v1/status", context => Status(node, queries, history, context))
            .Map("GET", "/healthz", _ => Health(node))
            .Map("GET", "/readyz", _ => Ready(node, queries))
            .Map("GET", "/openapi.json", _ => Results.Text(OpenApi, "application/json"))
            .Map("GET", "/metrics", _ => Results.Text(exporter.Scrape(), "text/plain; version=0.0.4; charset=utf-8"));
        app.Pipeline.Run(endpoints.Dispatch);

        // The address Kestrel bound (the port it chose when given port 0).
        Uri bound;
        try { bound = await app.StartAsync(); }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        port = bound.Port;
        return new AdminServer(app, new IPEndPoint(address.Address, bound.Port), certificate is not null, refusals, endpoints);
    }

    /// <summary>
    /// One client address may hold <see cref="MaxConnectionsPerClient"/> of the API's <see cref="MaxConnections"/>, one IPv6 /64
    /// <see cref="MaxConnectionsPerNetwork"/>: without them one client, token or not, could hold them all with idle keep-alive
    /// connections (the probes on /healthz too). Other hosts together hold at most <see cref="MaxConnections"/>; the rest of
    /// Kestrel's limit is the node's own host's. Loopback (127.0.0.0/8, ::1) is one client: any local process can send from
    /// millions of 127.x addresses, and with a share each one local user took every slot, the own address's probe's too.
    /// </summary>
    internal sealed class PerClientConnections(ILoggingAdapter log)
    {
        /// <summary>Open connections by client address, and by network (an IPv4 address is its own).</summary>
        private readonly Dictionary<IPAddress, int> _open = new(), _openNetworks = new();
        /// <summary>Open connections from other hosts.</summary>
        private int _remote;
        private long _refused;

        public async Task ServeAsync(Microsoft.AspNetCore.Connections.ConnectionContext connection, Microsoft.AspNetCore.Connections.ConnectionDelegate next)
        {
            if (connection.RemoteEndPoint is not IPEndPoint { Address: var address })
            {
                await next(connection);
                return;
            }
            // All of loopback is one client and one network (ClientNetwork.Network).
            var network = ClientNetwork.Network(address);
            var loopback = network.Equals(IPAddress.Loopback);
            var client = loopback ? network : ClientNetwork.Host(address);
            var local = loopback || connection.LocalEndPoint is IPEndPoint { Address: var own } && own.Equals(address);
            lock (_open)
            {
                var open = _open.GetValueOrDefault(client);
                var why = open >= MaxConnectionsPerClient ? $"it holds {MaxConnectionsPerClient} already"
                    : _openNetworks.GetValueOrDefault(network) >= MaxConnectionsPerNetwork ? $"its network {ClientNetwork.Show(network)} holds {MaxConnectionsPerNetwork} already"
                    : !local && _remote >= MaxConnections ? $"other hosts hold {MaxConnections} (the rest is kept for this host's probes)"
                    : null;
                if (why is not null)
                {
                    if (++_refused % 100 == 1)
                        log.Warning("admin API: refused a connection from {0}{1}: {2}; {3} refused so far", client, loopback ? " (loopback)" : "", why, _refused);
                    connection.Abort();
                    return;
                }
                _open[client] = open + 1;
                _openNetworks[network] = _openNetworks.GetValueOrDefault(network) + 1;
                if (!local) _remote++;
            }
            try
            {
                await next(connection);
            }
            finally
            {
                lock (_open)
                {
                    if (--_open[client] == 0) _open.Remove(client);
                    if (--_openNetworks[network] == 0) _openNetworks.Remove(network);
                    if (!local) _remote--;
                }
            }
        }
    }

    /// <summary>The API's OpenAPI 3.1 document (src/Node/Admin/openapi.json).</summary>
    internal static readonly string OpenApi = ReadOpenApi();

    private static string ReadOpenApi()
    {
        using var stream = typeof(AdminServer).Assembly.GetManifestResourceStream("openapi.json")
                           ?? throw new InvalidOperationException("openapi.json is not embedded");
        return new StreamReader(stream).ReadToEnd();
    }

    /// <summary>Every route the API maps (method, path template): what the OpenAPI document must describe.</summary>
    internal IReadOnlyList<(string Method, string Path)> Routes => _endpoints.Routes;

    /// <summary>A query parameter as minimal APIs bound a <c>string?</c>: null when absent, several values joined by commas.</summary>
    private static string? Query(HttpContext context, string name) => context.Request.Query[name];

    /// <summary>The largest login form read: a token field with room to spare.</summary>
    private const int MaxLoginBytes = 4096;

    /// <summary>
    /// The session cookie's attributes: HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it),
    /// Secure over HTTPS, the whole API.
    /// </summary>
    private static CookieOptions SessionCookieOptions(bool https) =>
        new() { HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = https, Path = "/" };

    /// <summary>A token from a client that has used up its attempts, refused unchecked (429 with Retry-After).</summary>
    private static async Task TooManyAttempts(HttpContext context, IPAddress client, TimeSpan wait, bool login, RefusalLog refusals)
    {
        var seconds = (int)Math.Ceiling(wait.TotalSeconds);
        refusals.Refused(client, $"{context.Request.Method} {context.Request.Path}", "too many failed token attempts (429)");
        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var message = $"too many failed token attempts from this address; try again in {seconds}s";
        if (login) await WriteLogin(context, message);
        else await context.Response.WriteAsJsonAsync(new { error = message }, Json);
    }

    private static async Task WriteLogin(HttpContext context, string message, int status = StatusCodes.Status429TooManyRequests)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/html; charset=utf-8";
        await context.Response.WriteAsync(StatusPage.Login(message));
    }

    /// <summary>The status page's login form: the right token sets a <see cref="SessionCookie"/> and goes to the page.</summary>
    private static async Task Login(HttpContext context, string token, SessionCookie session, bool https, FailedAttempts attempts, RefusalLog refusals)
    {
        var client = context.Connection.RemoteIpAddress ?? IPAddress.None;
        // Anyone may post here, so the form is read only when it is small: a token, not megabytes held per connection.
        if (context.Request.ContentLength is not (>= 0 and <= MaxLoginBytes))
        {
            refusals.Refused(client, "POST /login", $"a form of {(context.Request.ContentLength is { } n ? $"{n} bytes" : "unstated length")} (at most {MaxLoginBytes} bytes, with Content-Length)");
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            return;
        }
        // The small form is read first, then the token checked and counted in one step (FailedAttempts.Attempt): checking
        // the allowance before the body arrived let many concurrent forms pass the check before the first was counted.
        IFormCollection? form;
        try
        {
            form = context.Request.HasFormContentType ? await context.Request.ReadFormAsync() : null;
        }
        catch (Exception e) when (e is InvalidDataException or IOException && !context.RequestAborted.IsCancellationRequested)
        {
            // No boundary, a broken multipart body, too many fields: the client's fault, and an attempt like a wrong token.
            if (attempts.Attempt(client, right: false) is { } unread)
            {
                await TooManyAttempts(context, client, unread, login: true, refusals);
                return;
            }
            refusals.Refused(client, "POST /login", "a login form that cannot be read (400)");
            await WriteLogin(context, "That form could not be read.", StatusCodes.Status400BadRequest);
            return;
        }
        var right = HasToken("Bearer " + (form?["token"].ToString() ?? ""), token);
        if (attempts.Attempt(client, right) is { } wait)
        {
            await TooManyAttempts(context, client, wait, login: true, refusals);
            return;
        }
        if (!right)
        {
            refusals.Refused(client, "POST /login", "wrong token (login form)");
            await WriteLogin(context, "That is not this API's token.", StatusCodes.Status401Unauthorized);
            return;
        }
        context.Response.Cookies.Append(SessionCookie.Name, session.Issue(), new CookieOptions(SessionCookieOptions(https)) { MaxAge = SessionCookie.Lifetime });
        context.Response.Redirect("/");
    }

    /// <summary>Why a browser's request did not come from this API's own page (null when it did, or is no browser's):
    /// <c>Sec-Fetch-Site</c> other than same-origin or none (typed in); from a browser too old to send that, an
    /// <c>Origin</c> that is not this API's. <c>Origin: null</c> is let by: the page's own Referrer-Policy no-referrer
    /// makes a browser send it for the page's own form.</summary>
    private static string? CrossSite(HttpRequest request)
    {
        var site = request.Headers["Sec-Fetch-Site"].ToString();
        if (site.Length > 0)
            return site.Equals("same-origin", StringComparison.OrdinalIgnoreCase) || site.Equals("none", StringComparison.OrdinalIgnoreCase)
                ? null : $"Sec-Fetch-Site '{Diagnostic.Quote(site)}'";
        var origin = request.Headers.Origin.ToString();
        if (origin.Length > 0 && origin != "null" && !origin.Equals($"{request.Scheme}://{request.Host.Value}", StringComparison.OrdinalIgnoreCase))
            return $"Origin '{Diagnostic.Quote(origin)}' is not this API's";
        return null;
    }

    /// <summary>The shortest token taken off loopback: 16 characters (the guessing limit allows ~300 guesses a day per client network).</summary>
    internal const int MinimumRemoteToken = 16;

    /// <summary>
    /// Why <paramref name="token"/> cannot guard the admin API on <paramref name="address"/> (null: it can). Off loopback a
    /// token is mandatory and at least <see cref="MinimumRemoteToken"/> characters: the API is a network's guessing target
    /// there, and a correct guess rewrites the routing. Anywhere, a token with white space at either end is refused: the
    /// clients' tokens are compared trimmed (<see cref="HasToken"/>), so it would lock every client out (a line end read
    /// from a file, most likely). The reason never contains the token.
    /// </summary>
    internal static string? TokenRefusal(IPEndPoint address, string? token)
    {
        var remote = !IPAddress.IsLoopback(address.Address);
        if (string.IsNullOrEmpty(token))
            return remote ? $"the admin API on {address} is reachable from other hosts: give it a token (--admin-token or AKKAL4_ADMIN_TOKEN)" : null;
        if (token.Trim().Length != token.Length)
            return "the admin token starts or ends with white space (a line end read from a file?): clients' tokens are compared without it, so none would match; remove it";
        if (remote && token.Length < MinimumRemoteToken)
            return $"the admin API on {address} is reachable from other hosts, and a token of {token.Length} characters can be guessed there: "
                   + $"give one of at least {MinimumRemoteToken} (deploy/compose-env.sh makes 64 random hex digits; or `openssl rand -hex 32`)";
        return null;
    }

    /// <summary>
    /// <c>Bearer &lt;token&gt;</c>, the scheme in any case (RFC 7235), the token exactly. Their SHA-256 digests are compared,
    /// not the strings: <see cref="CryptographicOperations.FixedTimeEquals"/> answers at once for inputs of another length,
    /// which would time the token's length.
    /// </summary>
    internal static bool HasToken(string authorization, string token)
    {
        var space = authorization.IndexOf(' ');
        return space > 0 && authorization[..space].Equals("Bearer", StringComparison.OrdinalIgnoreCase)
                         && CryptographicOperations.FixedTimeEquals(
                             SHA256.HashData(Encoding.UTF8.GetBytes(authorization[(space + 1)..].Trim())), SHA256.HashData(Encoding.UTF8.GetBytes(token)));
    }

    private static readonly string[] ConfigMediaTypes =
        ["application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "application/json", "text/plain"];

    private static async Task<IResult> PutConfig(RouterNode node, HttpContext context)
    {
        if (context.Request.ContentType is { Length: > 0 } contentType
            && !ConfigMediaTypes.Contains(contentType.Split(';')[0].Trim(), StringComparer.OrdinalIgnoreCase))
            return Results.Json(new { error = $"content type '{contentType}' is not a manifest: send application/yaml or application/json" }, Json, statusCode: 415);
        string text;
        try
        {
            // Counted in bytes, as the limit is stated.
            var body = new MemoryStream();
            var buffer = new byte[81920];
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer)) > 0)
            {
                body.Write(buffer, 0, read);
                if (body.Length > MaxConfigBytes) return TooLarge();
            }
            text = System.Text.Encoding.UTF8.GetString(body.GetBuffer(), 0, (int)body.Length);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge();
        }

        var report = await ControlPlaneWork.CheckAsync(text, "request");
        if (!report.Ok) return Results.Json(new { errors = report.Errors.Select(ErrorJson) }, Json, statusCode: 400);

        // Kubernetes' spelling: ?dryRun=All checks and compiles in the writer, and changes nothing. Any other value is
        // refused, as Kubernetes does: a mistyped dry run must not become a real write.
        var dryRun = context.Request.Query.TryGetValue("dryRun", out var dry);
        if (dryRun && dry != "All")
            return Results.Json(new { error = $"dryRun '{Diagnostic.Quote(dry.ToString())}' is not supported: the only value is All" }, Json, statusCode: 400);
        var reply = await AskWrite(node, new ApplyConfig(report.Resources, dryRun));
        if (!dryRun && reply is ConfigAccepted { } done && context.Request.Query.TryGetValue("wait", out var wait) && wait == "true")
        {
            var lagging = await node.WaitForClusterRevisionAsync(done.Revision, WaitTimeout);
            if (lagging.Count > 0)
                return Results.Json(new { revision = done.Revision, lagging, message = $"applied, but not yet in force on every reachable node after {WaitTimeout.TotalSeconds:0}s" }, Json, statusCode: 202);
        }
        return reply switch
        {
            // Those of the writer's warnings about this request's resources are placed at their field in the body, as its errors are.
            ConfigAccepted a => Accepted(a, dryRun, w => w.Location ?? report.Locate(w)),
            ConfigRejected r => Results.Json(new { errors = r.Errors.Select(ErrorJson) }, Json, statusCode: r.Conflict ? 409 : 400),
            _ => NotAcknowledged(context, reply),
        };
    }

    /// <summary>
    /// A write to the node's config client. Its own timeouts come first; should this ask still time out, the outcome is
    /// as unknown as theirs (504), never a server error.
    /// </summary>
    /// <summary>
    /// How long a write waits for its answer: as long as the config client may take, but answered (504) before the
    /// request's own <see cref="WriteDeadline"/> cuts the connection.
    /// </summary>
    private static readonly TimeSpan WriteAnswerTimeout =
        ConfigClient.MaxTimeout < WriteDeadline - TimeSpan.FromSeconds(5) ? ConfigClient.MaxTimeout : WriteDeadline - TimeSpan.FromSeconds(5);

    private static async Task<object> AskWrite(RouterNode node, object write)
    {
        try { return await node.Writer.Ask<object>(write, WriteAnswerTimeout); }
        catch (AskTimeoutException)
        {
            return new ConfigUncertain(null, $"no answer from the config writer within {WriteAnswerTimeout.TotalSeconds:0}s; the write may still be applied");
        }
    }

    /// <summary>
    /// A write neither acknowledged nor refused: 503 when it certainly was not applied, 504 "outcome unknown" (with
    /// the revision it was journaled as, when known) when it may have been: applying the same content again is safe.
    /// </summary>
    private static IResult NotAcknowledged(HttpContext context, object reply)
    {
        context.Response.Headers.RetryAfter = "1";
        return reply switch
        {
            ConfigUnavailable u => Results.Json(new { error = $"nothing was applied: {u.Reason}" }, Json, statusCode: 503),
            ConfigUncertain u => Results.Json(new
            {
                outcome = "unknown", revision = u.Revision,
                error = $"outcome unknown: {u.Reason}; sending the same configuration again is safe (it is then acknowledged, or reported unchanged)",
            }, Json, statusCode: 504),
            _ => Results.StatusCode(500),
        };
    }

    private static IResult TooLarge() =>
        Results.Json(new { error = $"the configuration is over the limit of {MaxConfigBytes} bytes" }, Json, statusCode: 413);

    /// <summary>A write's 200: its revision, each resource it named with what happened to it, and the writer's warnings.</summary>
    private static IResult Accepted(ConfigAccepted a, bool dryRun, Func<Diagnostic, string?> locate) => Results.Json(new
    {
        revision = a.Revision,
        dryRun,
        resources = a.Changes.Select(c => KeyJson(c.Key, c.Action)),
        warnings = WarningsJson(a, locate),
    }, Json);

    private static object KeyJson(ResourceKey key, ChangeAction action) =>
        new { kind = key.Kind, @namespace = key.Namespace, name = key.Name, action = action.ToString().ToLowerInvariant() };

    /// <summary>Every warning of the configuration the write leaves; new: whether this write brought it (null: the writer, of an
    /// earlier version, did not say).</summary>
    private static IEnumerable<object> WarningsJson(ConfigAccepted a, Func<Diagnostic, string?> locate) =>
        a.Warnings.Select((w, i) => new { resource = w.Resource, field = w.Field, message = w.Message, location = locate(w), @new = a.IsNew(i) });

    private static object ErrorJson(Diagnostic d) => new { resource = d.Resource, field = d.Field, message = d.Message, location = d.Location };

    private static async Task<IResult> GetConfig(RouterNode node, HttpContext context, string? kind, string? ns)
    {
        ConfigContent content;
        try { content = await node.Writer.Ask<ConfigContent>(new ReadConfig(kind, ns), ConfigClient.MaxTimeout); }
        catch (AskTimeoutException)
        {
            context.Response.Headers.RetryAfter = "1";
            return Results.Json(new { error = "the configuration writer did not answer in time; try again" }, Json, statusCode: 503);
        }
        catch (ConfigNotReadableException e)
        {
            context.Response.Headers.RetryAfter = "1";
            return Results.Json(new { error = e.Message }, Json, statusCode: 503);
        }
        context.Response.Headers["X-AkkaL4-Revision"] = content.Revision.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return context.Request.Headers.Accept.ToString().Contains("application/json", StringComparison.OrdinalIgnoreCase)
            ? Results.Text(ManifestEncoder.ToJson(content.Resources), "application/json")
            : Results.Text(ManifestEncoder.ToYaml(content.Resources), "application/yaml");
    }

    private static async Task<IResult> Delete(RouterNode node, HttpContext context, string kind, string ns, string name)
    {
        var known = ResourceKinds.Types.Keys.FirstOrDefault(k => string.Equals(k, kind, StringComparison.OrdinalIgnoreCase));
        if (known is null) return Results.Json(new { error = $"unknown kind '{kind}'" }, Json, statusCode: 404);
        var reply = await AskWrite(node, new DeleteResource(new ResourceKey(known, ns, name)));
        return reply switch
        {
            ConfigAccepted a => Accepted(a, dryRun: false, w => w.Location),
            ConfigRejected { NotFound: true } => Results.Json(new { error = $"{known}/{ns}/{name} not found" }, Json, statusCode: 404),
            ConfigRejected r => Results.Json(new { errors = r.Errors.Select(ErrorJson) }, Json, statusCode: 400),
            _ => NotAcknowledged(context, reply),
        };
    }

    /// <summary>
    /// <c>POST /v1/config/delete</c> <c>{"resources": [{"kind", "namespace", "name"}, ...], "ignoreNotFound": false}</c> (kubectl
    /// delete -f): every one in one revision, all or nothing; 404 naming those not stored (then nothing was deleted). With
    /// <c>ignoreNotFound</c>, those the writer says are not stored are left out and the rest deleted in one revision (none left:
    /// no write); the 200 lists them under <c>notFound</c>. Done here, by asking again without them, so the writer (and its
    /// mixed-version protocol) is the same for both.
    /// </summary>
    private static async Task<IResult> DeleteMany(RouterNode node, HttpContext context)
    {
        // application/json, stated: a page of another site can send text/plain, a form, or no type, without the browser
        // asking this API first (a CORS preflight, which it would fail), and a JSON body fits in either.
        if (context.Request.ContentType?.Split(';')[0].Trim() is not { } type || !type.Equals("application/json", StringComparison.OrdinalIgnoreCase))
            return Results.Json(new { error = $"content type '{Diagnostic.Quote(context.Request.ContentType ?? "")}' is not JSON: send the list as application/json" }, Json, statusCode: 415);
        var keys = new List<ResourceKey>();
        var errors = new List<string>();
        // As a manifest's: at most this many listed, the rest counted (a 4 MiB body of bad entries was a 97 MB answer).
        var maxErrors = DecodeLimits.Default.MaxErrors;
        var unlisted = 0;
        bool ignoreNotFound;
        try
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted);
            if (!body.RootElement.TryGetProperty("resources", out var resources) || resources.ValueKind != JsonValueKind.Array)
                return Results.Json(new { error = "give {\"resources\": [{\"kind\", \"namespace\", \"name\"}, ...]}" }, Json, statusCode: 400);
            ignoreNotFound = body.RootElement.TryGetProperty("ignoreNotFound", out var ignore) && ignore.ValueKind == JsonValueKind.True;
            if (resources.GetArrayLength() is var named && named > MaxDeleteBatch)
                return Results.Json(new { error = $"nothing was deleted: a delete names at most {MaxDeleteBatch} resources and this one names {named}; split the batch" },
                    Json, statusCode: 413);
            var index = 0;
            foreach (var r in resources.EnumerateArray())
            {
                string? Text(string name) => r.ValueKind == JsonValueKind.Object && r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                var kind = Text("kind");
                var known = ResourceKinds.Types.Keys.FirstOrDefault(k => string.Equals(k, kind, StringComparison.OrdinalIgnoreCase));
                if (known is not null && !string.IsNullOrEmpty(Text("name"))) keys.Add(new ResourceKey(known, Text("namespace") ?? "default", Text("name")!));
                else if (errors.Count < maxErrors) errors.Add($"resources[{index}]: {(known is null ? $"unknown kind '{Diagnostic.Quote(kind ?? "")}'" : "no name")}");
                else unlisted++;
                index++;
            }
        }
        catch (JsonException e)
        {
            return Results.Json(new { error = $"the body is not JSON: {e.Message}" }, Json, statusCode: 400);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge();
        }
        if (errors.Count > 0)
            return Results.Json(new { error = $"nothing was deleted: {string.Join("; ", errors)}{(unlisted > 0 ? $"; and {unlisted} more not shown (at most {maxErrors})" : "")}" },
                Json, statusCode: 400);
        if (keys.Count == 0) return Results.Json(new { error = "no resources named" }, Json, statusCode: 400);
        var notFound = new List<ResourceKey>();
        var reply = await AskWrite(node, new DeleteResources(keys));
        // Each refusal names every key missing then; another ask is needed only when one more went meanwhile (bounded).
        for (var again = 0; ignoreNotFound && again < 3 && reply is ConfigRejected { NotFound: true } missing; again++)
        {
            var named = missing.Errors.Select(e => e.Resource).ToHashSet(StringComparer.Ordinal);
            var gone = keys.Where(k => named.Contains(k.ToString())).ToList();
            if (gone.Count == 0) break;
            notFound.AddRange(gone);
            keys = keys.Except(gone).ToList();
            if (keys.Count == 0)
                return Results.Json(new { revision = node.Routes.Current.Revision, dryRun = false, resources = Array.Empty<object>(), warnings = Array.Empty<object>(), notFound = KeysJson(notFound) }, Json);
            reply = await AskWrite(node, new DeleteResources(keys));
        }
        return reply switch
        {
            ConfigAccepted a when ignoreNotFound => Results.Json(new { revision = a.Revision, dryRun = false, resources = a.Changes.Select(c => KeyJson(c.Key, c.Action)),
                warnings = WarningsJson(a, w => w.Location), notFound = KeysJson(notFound) }, Json),
            ConfigAccepted a => Accepted(a, dryRun: false, w => w.Location),
            ConfigRejected r => Results.Json(new { errors = r.Errors.Select(ErrorJson) }, Json, statusCode: r.NotFound ? 404 : 400),
            _ => NotAcknowledged(context, reply),
        };
    }

    private static IEnumerable<object> KeysJson(IEnumerable<ResourceKey> keys) => keys.Select(k => new { kind = k.Kind, @namespace = k.Namespace, name = k.Name });

    private static IResult Explain(RouterNode node, string? source, string? destination, string? sni)
    {
        if (source is null || !IpPort.TryParse(source, portRequired: false, out var src)
            || destination is null || !IpPort.TryParse(destination, portRequired: true, out var dst))
            return Results.Json(new { error = "give source=IP[:PORT] and destination=IP:PORT" }, Json, statusCode: 400);
        var serverName = sni is null ? null : Actors.DataPlane.Preamble.ClientHello.Normalize(sni);
        var decision = node.Routes.Current.Decide(dst, src.Address, dst.Address, serverName);
        return Results.Json(Explanation.Of(decision, node.Health, serverName, sniAsked: true), Json);
    }

    /// <summary>"routing on revision N, in the cluster since T" or "..., not in a cluster since T (rejoining)".</summary>
    private static string Standing(RouterNode node)
    {
        var status = node.Status;
        var since = status.Since.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        var membership = status.InCluster ? $"in the cluster since {since}" : $"not in a cluster since {since} ({status.State})";
        return $"routing on revision {node.Routes.Current.Revision}, {membership}{(status.Draining ? ", draining" : "")}";
    }

    /// <summary>Alive: the data plane runs (it routes whether or not the node is in a cluster; out of one, it rejoins by itself).</summary>
    private static IResult Health(RouterNode node) =>
        node.System.WhenTerminated.IsCompleted
            ? Results.Text("not ok: the data plane has stopped\n", statusCode: 503)
            : Results.Text($"ok: {Standing(node)}\n");

    /// <summary>The answer, or null (and <paramref name="who"/> added to <paramref name="silent"/>) when the Ask timed out.</summary>
    private static async Task<T?> Answer<T>(Task<T> asked, string who, List<string> silent) where T : class
    {
        try { return await asked; }
        catch (AskTimeoutException)
        {
            silent.Add(who);
            return null;
        }
    }

    /// <summary>What the config writer is doing (serving, starting, recovering, refusing writes, and why); a second at most.</summary>
    private static async Task<WriterStatus?> WriterStatusOf(RouterNode node)
    {
        try { return await node.Writer.Ask<WriterStatus>(ReadWriterStatus.Instance, TimeSpan.FromSeconds(1)); }
        catch (AskTimeoutException) { return new WriterStatus("unknown", 0, "the config writer did not answer within 1s (starting, moving, or unreachable)"); }
    }

    /// <summary>The most upstream clusters whose traffic <c>/v1/status</c> lists (a mesh of 10,000 Services has 10,000).</summary>
    public const int MaxTrafficShown = 500;

    /// <summary>The status, or (null, what did not answer in time): then there is no status to show, only a 503 naming them.</summary>
    private static async Task<(object? Status, IReadOnlyList<string> Silent)> StatusOf(RouterNode node, NodeQueries queries, RevisionHistory history)
    {
        var membership = node.Status;
        var cluster = Cluster.Get(node.ClusterSystem);
        // Out of a cluster the last state seen would be stale: show none.
        var state = membership.InCluster ? cluster.State : new ClusterEvent.CurrentClusterState();
        // Asked at once, so a status costs the slowest answer, not their sum. The writer's own "unknown" is an answer.
        var asked = (Listeners: queries.Listeners(),
            Revisions: membership.InCluster ? queries.MemberRevisions() : Task.FromResult<IReadOnlyDictionary<string, MemberRevision>>(new Dictionary<string, MemberRevision>()),
            Writer: membership.InCluster ? WriterStatusOf(node) : Task.FromResult<WriterStatus?>(null));
        var silent = new List<string>();
        var listeners = await Answer(asked.Listeners, NodeQueries.What.DataPlane, silent);
        var revisions = await Answer(asked.Revisions, NodeQueries.What.Membership, silent);
        var writerStatus = await asked.Writer;
        if (listeners is null || revisions is null) return (null, silent);
        var snapshot = node.Routes.Current;
        // The singleton writer runs on the oldest Up member with the router role.
        var writer = state.Members.Where(m => m.Status == MemberStatus.Up && m.HasRole("router"))
            .OrderBy(m => m, Member.AgeOrdering).FirstOrDefault();
        var metrics = node.Metrics;
        var byName = snapshot.Clusters.DistinctBy(c => c.Name).ToList();
        var routable = snapshot.Clusters.Where(c => c.Status == ClusterStatus.Ok).ToList();
        return (new
        {
            node = node.Options.Name,
            address = cluster.SelfAddress.ToString(),
            revision = snapshot.Revision,
            revisionFailed = node.Revisions.Failed is > 0 and var failed ? failed : (long?)null,
            revisionError = node.Revisions.Error,
            lastKnownGood = node.LastKnownGoodCopy is { } copy ? new { revision = copy.Revision, failed = copy.Failed, error = copy.Error } : null,
            membership = new
            {
                state = membership.State,
                inCluster = membership.InCluster,
                since = membership.Since,
                incarnation = membership.Incarnation,
                draining = membership.Draining,
                summary = Standing(node),
            },
            configWriter = writer?.Address.ToString(),
            configWriterState = writerStatus is null ? null : new { state = writerStatus.State, revision = writerStatus.Revision, reason = writerStatus.Reason },
            members = state.Members.Select(m =>
            {
                // This node's own row from first hand: a node tells the others its revision only once it has applied one, so at
                // revision 0 (nothing written yet) its row had none, and on a one-node cluster the writer's REVISION read "-".
                var r = m.Address.Equals(cluster.SelfAddress) ? node.Revisions : revisions.GetValueOrDefault(m.Address.ToString());
                return new
                {
                    address = m.Address.ToString(), status = m.Status.ToString(), roles = m.Roles,
                    revision = r?.InForce,
                    revisionFailed = r is { Failed: > 0 } ? r.Failed : (long?)null,
                    revisionError = r?.Error,
                };
            }),
            unreachable = state.Unreachable.Select(m => m.Address.ToString()),
            leader = state.Leader?.ToString(),
            listeners = listeners.Select(l =>
            {
                var t = metrics.Listeners.GetValueOrDefault(l.Address);
                return new
                {
                    address = l.Address, bound = l.Bound, error = l.Error,
                    active = t?.Active ?? 0, total = t?.Total ?? 0, refused = t?.RefusedCount ?? 0, bytesIn = t?.BytesIn ?? 0, bytesOut = t?.BytesOut ?? 0,
                };
            }),
            traffic = byName.Take(MaxTrafficShown).Select(c => Traffic(metrics, c)),
            trafficOmitted = Math.Max(0, byName.Count - MaxTrafficShown),
            history = history.Entries,
            notes = snapshot.Notes,
            // As capped as traffic: the page polls this every second.
            upstreams = routable.Take(MaxTrafficShown).Select(node.Health.Snapshot),
            upstreamsOmitted = Math.Max(0, routable.Count - MaxTrafficShown),
            descriptors = Descriptors(node.Connections),
            journal = node.Journal is { } journal ? new { at = journal.Where, connected = journal.Connected, problem = journal.Problem } : null,
        }, silent);
    }

    /// <summary>The descriptors' budget: the limit (null: none known), the reserve, what the connections and the rest of the process hold.</summary>
    private static object Descriptors(ConnectionBudget connections)
    {
        var d = connections.Descriptors;
        return new
        {
            limit = d.Limit == long.MaxValue ? (long?)null : d.Limit, reserve = d.Reserve,
            connections = connections.Open * DescriptorBudget.PerConnection, other = d.Others,
            maxConnections = d.MaxConnections == int.MaxValue ? (int?)null : d.MaxConnections,
            problem = connections.NoRoom(),
        };
    }

    /// <summary>The traffic through one upstream cluster and each of its endpoints (bytes in: from clients); health is in <c>upstreams</c>.</summary>
    private static object Traffic(DataPlaneMetrics metrics, UpstreamCluster cluster)
    {
        var t = metrics.Clusters.GetValueOrDefault(cluster.Name);
        return new
        {
            name = cluster.Name, status = cluster.Status.ToString(), detail = cluster.Status == ClusterStatus.Ok ? null : cluster.Detail,
            active = t?.Active ?? 0, total = t?.Total ?? 0, connectFailures = t?.Failures ?? 0, bytesIn = t?.BytesIn ?? 0, bytesOut = t?.BytesOut ?? 0,
            lastError = t?.LastError?.Error, lastErrorAt = t?.LastError?.At,
            endpoints = cluster.Endpoints.Select(e =>
            {
                var address = e.ToString();
                var et = metrics.Endpoints.GetValueOrDefault((cluster.Name, address));
                return new
                {
                    address, workload = e.Workload,
                    active = et?.Active ?? 0, total = et?.Total ?? 0, connectFailures = et?.Failures ?? 0, bytesIn = et?.BytesIn ?? 0, bytesOut = et?.BytesOut ?? 0,
                    lastError = et?.LastError?.Error, lastErrorAt = et?.LastError?.At,
                };
            }),
        };
    }

    /// <summary>
    /// The status, or 503 naming what did not answer in time (as <c>/readyz</c> does): a status with parts missing would
    /// read as a node without listeners or members. Not logged: an overloaded node would log per poll.
    /// </summary>
    private static async Task<IResult> Status(RouterNode node, NodeQueries queries, RevisionHistory history, HttpContext context)
    {
        var (status, silent) = await StatusOf(node, queries, history);
        if (status is not null) return Results.Json(status, Json);
        context.Response.Headers.RetryAfter = "1";
        return Results.Json(new { error = NotAnswering(silent), notAnswering = silent }, Json, statusCode: 503);
    }

    private static string NotAnswering(IReadOnlyList<string> silent) => $"no status: {string.Join(" and ", silent)} did not answer in time; try again";

    private static async Task<IResult> Page(RouterNode node, NodeQueries queries, RevisionHistory history, bool loggedIn)
    {
        var (status, silent) = await StatusOf(node, queries, history);
        return status is null
            ? Results.Text(NotAnswering(silent) + "\n", statusCode: 503)
            : Results.Content(StatusPage.Render(node.Options.Name, JsonSerializer.Serialize(status, Json), loggedIn), "text/html; charset=utf-8");
    }

    private static async Task<IResult> Ready(RouterNode node, NodeQueries queries)
    {
        if (node.System.WhenTerminated.IsCompleted) return Results.Text("not ready: the data plane has stopped\n", statusCode: 503);
        var snapshot = node.Routes.Current;
        if (node.Status.Draining) return Results.Text($"not ready: draining ({Standing(node)})\n", statusCode: 503);
        // A limit lowered on the running node (prlimit) below the reserve: listeners accept nothing.
        if (node.Connections.NoRoom() is { } noRoom) return Results.Text($"not ready: {noRoom}\n", statusCode: 503);
        IReadOnlyList<ListenerSet.ListenerStatus> listeners;
        try
        {
            listeners = await queries.Listeners();
        }
        catch (AskTimeoutException)
        {
            // Overloaded, or stopping: an answer for the probe, not an error logged per probe.
            return Results.Text("not ready: the data plane did not answer in 5s\n", statusCode: 503);
        }
        // /readyz needs no token: it says how many and which revision, never what the configuration holds (listener
        // addresses are its Services' and Gateways'; a revision's error quotes its resources). /v1/status says the rest.
        var unbound = listeners.Count(l => !l.Bound) + Math.Max(0, snapshot.Listeners.Count - listeners.Count);
        if (snapshot.Revision == 0) return Results.Text("not ready: no configuration yet\n", statusCode: 503);
        if (unbound > 0)
            return Results.Text($"not ready: {unbound} listener(s) not bound (which, and why: /v1/status)\n", statusCode: 503);
        // Ready out of a cluster too: the node routes with its last configuration (the summary says so). A revision
        // this node could not apply is said, not made a failed probe: it keeps routing by the last good one, and every
        // node would fail the same revision alike (all out of service at once would be the worse outcome).
        var failed = node.Revisions is { Failed: > 0 } r ? $"; revision {r.Failed} could not be applied (why: /v1/status)" : "";
        // As said, not a failed probe: the data plane routes without the journal; this node only cannot be the config writer.
        // Which journal and why only in /v1/status (behind the token): its user, host, database and the server's words are not for anyone.
        var journal = node.Journal?.Problem is not null ? "; journal: cannot be used, this node cannot be the config writer (see /v1/status)" : "";
        return Results.Text($"ready: {listeners.Count} listener(s), {Standing(node)}{failed}{journal}\n");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
    }
}
