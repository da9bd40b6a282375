using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using AkkaL4.Actors;
using AkkaL4.Actors.Config;
using AkkaL4.Node.Admin;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.Node;

/// <summary>One router node with its admin API on a free loopback port, plus a second API on it that wants a token.</summary>
public sealed class AdminApiWorld : IAsyncLifetime
{
    public const string Token = "s3cret-token";

    public RouterNode Node { get; private set; } = null!;
    public AdminServer Open { get; private set; } = null!;
    public AdminServer Guarded { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;
    public HttpClient GuardedHttp { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Node = await StartNodeAsync("admin-api");
        Open = await AdminServer.StartAsync(Node, new IPEndPoint(IPAddress.Loopback, FreePort()), null);
        Guarded = await AdminServer.StartAsync(Node, new IPEndPoint(IPAddress.Loopback, FreePort()), Token);
        Http = new HttpClient { BaseAddress = new Uri($"http://{Open.Address}"), Timeout = Patience };
        GuardedHttp = new HttpClient { BaseAddress = new Uri($"http://{Guarded.Address}"), Timeout = Patience };
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        GuardedHttp.Dispose();
        await Guarded.DisposeAsync();
        await Open.DisposeAsync();
        await Node.DisposeAsync();
    }
}

/// <summary>
/// The admin HTTP API over real loopback HTTP: config writes (YAML and JSON, 200/400/409/413), reads
/// (YAML, JSON list, filters, revision header), deletes (200/404), explain, status, metrics, health,
/// readiness and the bearer token. Tests share one node and use their own namespace and 127.3.2.x address.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class AdminApiTests(AdminApiWorld world) : IClassFixture<AdminApiWorld>
{
    private HttpClient Http => world.Http;

    private sealed record Reply(HttpStatusCode Status, string Body, HttpResponseHeaders Headers, HttpContentHeaders ContentHeaders)
    {
        public JsonElement Json => JsonDocument.Parse(Body).RootElement;
        public override string ToString() => $"{(int)Status} {Body}";
    }

    private static async Task<Reply> SendAsync(HttpClient http, HttpRequestMessage request)
    {
        using var response = await http.SendAsync(request);
        return new Reply(response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers, response.Content.Headers);
    }

    private Task<Reply> PutAsync(string body, string mediaType = "application/yaml", HttpClient? http = null) =>
        SendAsync(http ?? Http, new HttpRequestMessage(HttpMethod.Put, "/v1/config") { Content = new StringContent(body, Encoding.UTF8, mediaType) });

    private Task<Reply> GetAsync(string path, string? accept = null, HttpClient? http = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (accept is not null) request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
        return SendAsync(http ?? Http, request);
    }

    private Task<Reply> DeleteAsync(string path, HttpClient? http = null) => SendAsync(http ?? Http, new HttpRequestMessage(HttpMethod.Delete, path));

    private async Task<long> RevisionAsync()
    {
        var reply = await GetAsync("/v1/config?kind=Gateway&namespace=none");
        Assert.Equal(HttpStatusCode.OK, reply.Status);
        return long.Parse(reply.Headers.GetValues("X-AkkaL4-Revision").Single());
    }

    /// <summary>PUT, expect 200, and wait until the node has put the accepted revision in force (writes are acknowledged once replicated).</summary>
    private async Task<Reply> PutInForceAsync(string body)
    {
        var reply = await PutAsync(body);
        AssertOk(reply);
        await InForceAsync(world.Node, reply.Json.GetProperty("revision").GetInt64());
        return reply;
    }

    private static void AssertOk(Reply reply) => Assert.True(reply.Status == HttpStatusCode.OK, reply.ToString());

    private static List<(string Kind, string Namespace, string Name, string Action)> Actions(Reply reply) =>
        reply.Json.GetProperty("resources").EnumerateArray()
            .Select(r => (r.GetProperty("kind").GetString()!, r.GetProperty("namespace").GetString()!, r.GetProperty("name").GetString()!, r.GetProperty("action").GetString()!))
            .ToList();

    [Fact]
    public async Task Put_with_a_content_type_that_is_not_a_manifest_is_415_and_applies_nothing()
    {
        var before = await GetAsync("/v1/config");
        var reply = await PutAsync("<config/>", "application/xml");

        Assert.Equal(415, (int)reply.Status);
        Assert.Contains("application/yaml", reply.Body);
        Assert.Equal(before.Body, (await GetAsync("/v1/config")).Body);
    }

    [Fact]
    public async Task A_dry_run_value_other_than_All_is_400_and_applies_nothing()
    {
        var before = await RevisionAsync();
        var reply = await SendAsync(Http, new HttpRequestMessage(HttpMethod.Put, "/v1/config?dryRun=true")
        {
            Content = new StringContent(Workload("w", "api-dry", "127.3.2.140", "w"), Encoding.UTF8, "application/yaml"),
        });

        Assert.Equal(400, (int)reply.Status);
        Assert.Contains("the only value is All", reply.Body);
        Assert.Equal(before, await RevisionAsync());
        Assert.DoesNotContain("api-dry", (await GetAsync("/v1/config?namespace=api-dry")).Body);
    }

    [Fact]
    public async Task Put_yaml_creates_and_the_same_put_again_is_unchanged()
    {
        var body = Join(Service("web", "api-put", "127.3.2.1"), Workload("web-1", "api-put", "127.3.2.101", "web"));

        var created = await PutAsync(body);
        var again = await PutAsync(body);

        AssertOk(created);
        Assert.Equal("application/json", created.ContentHeaders.ContentType?.MediaType);
        var revision = created.Json.GetProperty("revision").GetInt64();
        Assert.Equal([("Service", "api-put", "web", "created"), ("WorkloadEntry", "api-put", "web-1", "created")], Actions(created));
        Assert.Equal(JsonValueKind.Array, created.Json.GetProperty("warnings").ValueKind);
        AssertOk(again);
        Assert.Equal(revision, again.Json.GetProperty("revision").GetInt64());
        Assert.All(Actions(again), a => Assert.Equal("unchanged", a.Action));
        Assert.Equal(revision, await RevisionAsync());
        await InForceAsync(world.Node, revision);
        Assert.Contains(await BoundAsync(world.Node), l => l.Address == "127.3.2.1:19000");
    }

    [Fact]
    public async Task Put_reports_an_update_and_the_analyzer_warnings()
    {
        AssertOk(await PutAsync(Workload("w", "api-warn", "127.3.2.102", "w")));

        var reply = await PutAsync(Join(Workload("w", "api-warn", "127.3.2.103", "w"), Route("ghost", "api-warn", "nowhere")));

        AssertOk(reply);
        Assert.Equal([("WorkloadEntry", "api-warn", "w", "updated"), ("VirtualService", "api-warn", "ghost", "created")], Actions(reply));
        var warning = Assert.Single(reply.Json.GetProperty("warnings").EnumerateArray(),
            w => w.GetProperty("resource").GetString() == "VirtualService/api-warn/ghost" && w.GetProperty("field").GetString() == "spec.hosts[0]");
        Assert.Contains("matches no known service", warning.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Put_json_bodies_are_accepted_one_object_or_a_list()
    {
        const string one = """
            {"apiVersion": "networking.istio.io/v1", "kind": "WorkloadEntry",
             "metadata": {"name": "j-1", "namespace": "api-json"},
             "spec": {"address": "127.3.2.104", "labels": {"app": "j"}}}
            """;
        const string list = """
            {"apiVersion": "v1", "kind": "List", "items": [
              {"apiVersion": "networking.istio.io/v1", "kind": "WorkloadEntry",
               "metadata": {"name": "j-2", "namespace": "api-json"}, "spec": {"address": "127.3.2.105"}},
              {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
               "metadata": {"name": "j", "namespace": "api-json"}, "spec": {"host": "j", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}}
            ]}
            """;

        var first = await PutAsync(one, "application/json");
        var second = await PutAsync(list, "application/json");

        AssertOk(first);
        Assert.Equal([("WorkloadEntry", "api-json", "j-1", "created")], Actions(first));
        AssertOk(second);
        Assert.Equal([("WorkloadEntry", "api-json", "j-2", "created"), ("DestinationRule", "api-json", "j", "created")], Actions(second));
        Assert.Equal(first.Json.GetProperty("revision").GetInt64() + 1, second.Json.GetProperty("revision").GetInt64());
    }

    [Fact]
    public async Task Put_with_invalid_resources_is_400_with_every_error_and_applies_nothing()
    {
        var before = await RevisionAsync();

        var reply = await PutAsync(Join(
            Workload("fine", "api-bad", "127.3.2.106", "fine"),
            Rule("bad-a", "api-bad", "web", "V_1"),
            Service("bad-b", "api-bad", "not-an-ip")));

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        var errors = reply.Json.GetProperty("errors").EnumerateArray()
            .Select(e => (e.GetProperty("resource").GetString(), e.GetProperty("field").GetString(), e.GetProperty("message").GetString()!)).ToList();
        Assert.Contains(errors, e => e.Item1 == "DestinationRule/api-bad/bad-a" && e.Item2 == "spec.subsets[0].name" && e.Item3.Contains("V_1"));
        Assert.Contains(errors, e => e.Item1 == "Service/api-bad/bad-b" && e.Item2 == "spec.clusterIP");
        Assert.Equal(before, await RevisionAsync());
        Assert.Equal("", (await GetAsync("/v1/config?namespace=api-bad")).Body.Trim());
    }

    [Fact]
    public async Task Put_with_a_syntax_error_is_400()
    {
        var reply = await PutAsync("apiVersion: v1\nkind: Service\nmetadata: {name: x\n");

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.NotEmpty(reply.Json.GetProperty("errors").EnumerateArray());
    }

    [Fact]
    public async Task Put_with_a_stale_resource_version_is_409_and_the_current_one_is_accepted()
    {
        var created = await PutAsync(Workload("w", "api-conflict", "127.3.2.107", "w"));
        AssertOk(created);
        var v1 = created.Json.GetProperty("revision").GetInt64();
        var updated = await PutAsync(Workload("w", "api-conflict", "127.3.2.108", "w"));
        AssertOk(updated);
        var v2 = updated.Json.GetProperty("revision").GetInt64();
        string WithVersion(long version, string address) =>
            Workload("w", "api-conflict", address, "w").Replace("namespace: api-conflict}", $"namespace: api-conflict, resourceVersion: \"{version}\"}}");

        var stale = await PutAsync(WithVersion(v1, "127.3.2.109"));
        var current = await PutAsync(WithVersion(v2, "127.3.2.110"));

        Assert.Equal(HttpStatusCode.Conflict, stale.Status);
        var error = Assert.Single(stale.Json.GetProperty("errors").EnumerateArray());
        Assert.Equal("WorkloadEntry/api-conflict/w", error.GetProperty("resource").GetString());
        Assert.Equal("metadata.resourceVersion", error.GetProperty("field").GetString());
        AssertOk(current);
        Assert.Equal([("WorkloadEntry", "api-conflict", "w", "updated")], Actions(current));
        Assert.Contains("127.3.2.110", (await GetAsync("/v1/config?kind=WorkloadEntry&namespace=api-conflict")).Body);
    }

    [Fact]
    public async Task Put_over_4_MiB_is_413_and_applies_nothing()
    {
        var before = await RevisionAsync();
        var document = Workload("big", "api-big", "127.3.2.111", "big") + "\n";
        var padding = new string('#', AdminServer.MaxConfigBytes + 1 - document.Length);
        var justOver = document + padding;
        Assert.Equal(AdminServer.MaxConfigBytes + 1, Encoding.UTF8.GetByteCount(justOver));

        var overByOne = await PutAsync(justOver);
        // Well over the limit the server answers before reading the body and closes the connection: the
        // client waits for 100 Continue (as curl does) instead of writing into a closed socket.
        var wellOverRequest = new HttpRequestMessage(HttpMethod.Put, "/v1/config")
        {
            Content = new StringContent(document + new string('#', AdminServer.MaxConfigBytes + 64 * 1024), Encoding.UTF8, "application/yaml"),
        };
        wellOverRequest.Headers.ExpectContinue = true;
        var wellOver = await SendAsync(Http, wellOverRequest);
        // Without a Content-Length (chunked), the limit is found while reading.
        var chunkedContent = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(justOver + "###")));
        chunkedContent.Headers.ContentType = new MediaTypeHeaderValue("application/yaml");
        var chunkedRequest = new HttpRequestMessage(HttpMethod.Put, "/v1/config") { Content = chunkedContent };
        chunkedRequest.Headers.TransferEncodingChunked = true;
        chunkedRequest.Headers.ExpectContinue = true;
        var chunked = await SendAsync(Http, chunkedRequest);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, overByOne.Status);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, wellOver.Status);
        Assert.True(chunked.Status == HttpStatusCode.RequestEntityTooLarge, chunked.ToString()[..Math.Min(300, chunked.ToString().Length)]);
        Assert.False(string.IsNullOrEmpty(overByOne.Json.GetProperty("error").GetString()));
        Assert.Equal(before, await RevisionAsync());
        Assert.Equal("", (await GetAsync("/v1/config?namespace=api-big")).Body.Trim());
    }

    [Fact]
    public async Task Put_over_4_MiB_in_bytes_is_413_even_with_multibyte_characters()
    {
        var document = Workload("big-utf8", "api-big", "127.3.2.112", "big") + "\n# é\n";
        var body = document + new string('#', AdminServer.MaxConfigBytes + 1 - Encoding.UTF8.GetByteCount(document));
        Assert.Equal(AdminServer.MaxConfigBytes + 1, Encoding.UTF8.GetByteCount(body));

        var reply = await PutAsync(body);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, reply.Status);
    }

    [Fact]
    public async Task Get_returns_yaml_with_the_revision_header_filtered_by_kind_and_namespace()
    {
        AssertOk(await PutAsync(Join(Service("svc", "api-get", "127.3.2.2"), Workload("svc-1", "api-get", "127.3.2.113", "svc"),
            Workload("other", "api-get-2", "127.3.2.114", "other"))));
        var revision = await RevisionAsync();

        var all = await GetAsync("/v1/config");
        var ns = await GetAsync("/v1/config?namespace=api-get");
        var kind = await GetAsync("/v1/config?kind=workloadentry&namespace=api-get");

        AssertOk(all);
        Assert.Equal("application/yaml", all.ContentHeaders.ContentType?.MediaType);
        Assert.Equal(revision.ToString(), all.Headers.GetValues("X-AkkaL4-Revision").Single());
        Assert.Contains("name: other", all.Body);
        var nsResources = ConfigCheck.Check(ns.Body, "get").Resources;
        Assert.Equal(["Service/api-get/svc", "WorkloadEntry/api-get/svc-1"], nsResources.Select(r => r.Key.ToString()));
        Assert.All(nsResources, r => Assert.False(string.IsNullOrEmpty(r.Metadata.ResourceVersion)));
        Assert.All(nsResources, r => Assert.False(string.IsNullOrEmpty(r.Metadata.CreationTimestamp)));
        Assert.Equal(["WorkloadEntry/api-get/svc-1"], Keys(kind.Body));
    }

    [Fact]
    public async Task Get_as_json_is_a_list_that_applies_back_unchanged()
    {
        AssertOk(await PutAsync(Join(Service("round", "api-json-get", "127.3.2.3"), Workload("round-1", "api-json-get", "127.3.2.115", "round"),
            Rule("round", "api-json-get", "round", "v1"), Route("round", "api-json-get", "round", "v1"))));
        var revision = await RevisionAsync();

        var json = await GetAsync("/v1/config?namespace=api-json-get", "application/json");
        var reapplied = await PutAsync(json.Body, "application/json");

        AssertOk(json);
        Assert.Equal("application/json", json.ContentHeaders.ContentType?.MediaType);
        Assert.Equal(revision.ToString(), json.Headers.GetValues("X-AkkaL4-Revision").Single());
        Assert.Equal("List", json.Json.GetProperty("kind").GetString());
        Assert.Equal(4, json.Json.GetProperty("items").GetArrayLength());
        AssertOk(reapplied);
        Assert.Equal(revision, reapplied.Json.GetProperty("revision").GetInt64());
        Assert.Equal(4, Actions(reapplied).Count);
        Assert.All(Actions(reapplied), a => Assert.Equal("unchanged", a.Action));
        Assert.Equal(revision, await RevisionAsync());
    }

    [Fact]
    public async Task Delete_is_200_with_the_new_revision_then_404()
    {
        AssertOk(await PutAsync(Workload("gone", "api-delete", "127.3.2.116", "gone")));
        var before = await RevisionAsync();

        var deleted = await DeleteAsync("/v1/config/workloadentry/api-delete/gone");
        var again = await DeleteAsync("/v1/config/WorkloadEntry/api-delete/gone");
        var unknownKind = await DeleteAsync("/v1/config/Pod/api-delete/gone");

        AssertOk(deleted);
        Assert.Equal(before + 1, deleted.Json.GetProperty("revision").GetInt64());
        Assert.Equal(HttpStatusCode.NotFound, again.Status);
        Assert.Contains("not found", again.Json.GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.NotFound, unknownKind.Status);
        Assert.Contains("Pod", unknownKind.Json.GetProperty("error").GetString());
        Assert.Equal(before + 1, await RevisionAsync());
        Assert.Equal("", (await GetAsync("/v1/config?namespace=api-delete")).Body.Trim());
    }

    [Fact]
    public async Task Explain_answers_from_the_live_configuration()
    {
        await PutInForceAsync(Join(Service("ex", "api-explain", "127.3.2.4"), Workload("ex-1", "api-explain", "127.3.2.117", "ex"),
            Route("ex", "api-explain", "ex")));

        var routed = await GetAsync("/v1/explain?source=127.3.2.50&destination=127.3.2.4:19000");
        var nothing = await GetAsync("/v1/explain?source=127.3.2.50&destination=127.3.2.99:19000");
        var noPort = await GetAsync("/v1/explain?source=127.3.2.50&destination=127.3.2.4");
        var missing = await GetAsync("/v1/explain?destination=127.3.2.4:19000");

        AssertOk(routed);
        Assert.Equal("route", routed.Json.GetProperty("result").GetString());
        var destination = Assert.Single(routed.Json.GetProperty("destinations").EnumerateArray());
        Assert.Contains("127.3.2.117:9000", destination.GetProperty("endpoints").EnumerateArray().Select(e => e.GetString()));
        AssertOk(nothing);
        Assert.Equal("no-listener", nothing.Json.GetProperty("result").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, noPort.Status);
        Assert.Equal(HttpStatusCode.BadRequest, missing.Status);
    }

    [Fact]
    public async Task Status_shows_the_node_its_revision_and_listeners()
    {
        await PutInForceAsync(Service("st", "api-status", "127.3.2.5"));
        await BoundAsync(world.Node);

        var reply = await GetAsync("/v1/status");

        AssertOk(reply);
        var json = reply.Json;
        Assert.Equal(world.Node.Options.Name, json.GetProperty("node").GetString());
        Assert.Equal(world.Node.Routes.Current.Revision, json.GetProperty("revision").GetInt64());
        Assert.Equal(world.Node.ClusterAddress, json.GetProperty("address").GetString());
        Assert.Contains(json.GetProperty("members").EnumerateArray(), m => m.GetProperty("address").GetString() == world.Node.ClusterAddress);
        var listener = Assert.Single(json.GetProperty("listeners").EnumerateArray(), l => l.GetProperty("address").GetString() == "127.3.2.5:19000");
        Assert.True(listener.GetProperty("bound").GetBoolean());
    }

    [Fact]
    public async Task Put_with_wait_answers_once_the_node_routes_by_the_new_revision()
    {
        var request = new HttpRequestMessage(HttpMethod.Put, "/v1/config?wait=true")
        {
            Content = new StringContent(Service("wait", "api-wait", "127.3.2.8"), Encoding.UTF8, "application/yaml"),
        };

        var reply = await SendAsync(Http, request);

        AssertOk(reply);
        var revision = reply.Json.GetProperty("revision").GetInt64();
        Assert.Equal([("Service", "api-wait", "wait", "created")], Actions(reply));
        // No waiting here: the answer came once the node routes by the revision.
        Assert.True(world.Node.Applied!.Revision >= revision, $"answered at revision {revision}, node at {world.Node.Applied.Revision}");
        var status = (await GetAsync("/v1/status")).Json;
        Assert.Equal(world.Node.ClusterAddress, status.GetProperty("configWriter").GetString());
        var member = Assert.Single(status.GetProperty("members").EnumerateArray());
        Assert.True(member.GetProperty("revision").GetInt64() >= revision);
    }

    [Fact]
    public async Task Metrics_are_prometheus_text_and_count_a_connection()
    {
        await PutInForceAsync(Join(Service("met", "api-metrics", "127.3.2.6"), Workload("met-1", "api-metrics", "127.3.2.118", "met")));
        await BoundAsync(world.Node);
        using (var client = new TcpClient(new IPEndPoint(IPAddress.Parse("127.3.2.51"), 0)))
        {
            using var cts = new CancellationTokenSource(Patience);
            await client.ConnectAsync(new IPEndPoint(IPAddress.Parse("127.3.2.6"), 19000), cts.Token);
        }

        Reply? last = null;
        await EventuallyAsync(async () =>
        {
            last = await GetAsync("/metrics");
            return last.Status == HttpStatusCode.OK && Counted(last.Body, "envoy_tcp_downstream_cx_total", "127.3.2.6_19000") == 1;
        }, () => $"/metrics counts one envoy_tcp_downstream_cx_total on 127.3.2.6_19000 (last: {last})");
        Assert.StartsWith("text/plain", last!.ContentHeaders.ContentType?.MediaType);
        Assert.Contains("# TYPE envoy_tcp_downstream_cx_total counter", last.Body);
    }

    /// <summary>
    /// The value of the sample of <paramref name="metric"/> (<c>name{labels} value [timestamp]</c>) whose labels
    /// name <paramref name="listener"/> as Envoy's TCP proxy prefix; 0 when there is none yet.
    /// </summary>
    private long Counted(string text, string metric, string listener) =>
        text.Split('\n')
            .Where(l => l.StartsWith(metric + "{", StringComparison.Ordinal)
                        && l.Contains($"envoy_tcp_prefix=\"{listener}\"", StringComparison.Ordinal))
            .Select(l => l[(l.LastIndexOf('}') + 1)..].Trim().Split(' ')[0])
            .Sum(v => (long)double.Parse(v, System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public async Task Healthz_is_ok_and_says_what_the_node_routes_by_and_where_it_stands()
    {
        var reply = await GetAsync("/healthz");

        AssertOk(reply);
        Assert.StartsWith("ok: routing on revision ", reply.Body);
        Assert.Contains("in the cluster since ", reply.Body);
    }

    [Fact]
    public async Task Readyz_is_503_until_a_configuration_is_loaded_and_its_listeners_are_bound()
    {
        await using var node = await StartNodeAsync("admin-readyz", silent: true);
        await using var server = await AdminServer.StartAsync(node, new IPEndPoint(IPAddress.Loopback, FreePort()), null);
        using var http = new HttpClient { BaseAddress = new Uri($"http://{server.Address}"), Timeout = Patience };

        var empty = await GetAsync("/readyz", http: http);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, empty.Status);
        Assert.Contains("no configuration", empty.Body);

        // 192.0.2.1 (TEST-NET-1) is no address of this host: its listener cannot bind.
        AssertOk(await PutAsync(Join(Service("ready", "api-ready", "127.3.2.7"), Service("unbindable", "api-ready", "192.0.2.1")), http: http));
        Reply? notBound = null;
        await EventuallyAsync(async () =>
        {
            notBound = await GetAsync("/readyz", http: http);
            return notBound.Body.Contains("1 listener(s) not bound");
        }, () => $"/readyz counts the unbound listener (last: {notBound})");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notBound!.Status);
        // /readyz needs no token: it counts, and /v1/status (behind the token where one is set) names the address.
        Assert.DoesNotContain("192.0.2.1", notBound.Body);
        var status = (await GetAsync("/v1/status", http: http)).Json;
        var unbound = Assert.Single(status.GetProperty("listeners").EnumerateArray(), l => l.GetProperty("address").GetString() == "192.0.2.1:19000");
        Assert.False(unbound.GetProperty("bound").GetBoolean());

        AssertOk(await DeleteAsync("/v1/config/Service/api-ready/unbindable", http));
        Reply? ready = null;
        await EventuallyAsync(async () =>
        {
            ready = await GetAsync("/readyz", http: http);
            return ready.Status == HttpStatusCode.OK;
        }, () => $"/readyz is 200 (last: {ready})");
        Assert.Contains($"revision {node.Routes.Current.Revision}", ready!.Body);
    }

    [Fact]
    public async Task A_token_guards_everything_but_health_and_readiness()
    {
        var guarded = world.GuardedHttp;
        var before = await RevisionAsync();

        var put = await PutAsync(Workload("t", "api-token", "127.3.2.119", "t"), http: guarded);
        var get = await GetAsync("/v1/config", http: guarded);
        var delete = await DeleteAsync("/v1/config/Service/api-token/x", guarded);
        var status = await GetAsync("/v1/status", http: guarded);
        var explain = await GetAsync("/v1/explain?source=127.3.2.50&destination=127.3.2.4:19000", http: guarded);
        var metrics = await GetAsync("/metrics", http: guarded);
        var wrong = new HttpRequestMessage(HttpMethod.Get, "/v1/config");
        wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "not-the-token");
        var wrongToken = await SendAsync(guarded, wrong);
        var basic = new HttpRequestMessage(HttpMethod.Get, "/v1/config");
        basic.Headers.Authorization = new AuthenticationHeaderValue("Basic", AdminApiWorld.Token);
        var wrongScheme = await SendAsync(guarded, basic);
        var healthz = await GetAsync("/healthz", http: guarded);
        var readyz = await GetAsync("/readyz", http: guarded);

        foreach (var reply in new[] { put, get, delete, status, explain, metrics, wrongToken, wrongScheme })
        {
            Assert.True(reply.Status == HttpStatusCode.Unauthorized, reply.ToString());
            Assert.Equal("Bearer", reply.Headers.WwwAuthenticate.Single().Scheme);
        }
        AssertOk(healthz);
        Assert.NotEqual(HttpStatusCode.Unauthorized, readyz.Status);
        Assert.Equal(before, await RevisionAsync());

        var authorized = new HttpRequestMessage(HttpMethod.Put, "/v1/config")
        {
            Content = new StringContent(Workload("t", "api-token", "127.3.2.119", "t"), Encoding.UTF8, "application/yaml"),
        };
        authorized.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminApiWorld.Token);
        var accepted = await SendAsync(guarded, authorized);
        AssertOk(accepted);
        Assert.Equal([("WorkloadEntry", "api-token", "t", "created")], Actions(accepted));
    }

    [Fact]
    public async Task A_non_loopback_address_without_a_token_is_refused()
    {
        var port = FreePort();

        await Assert.ThrowsAsync<ArgumentException>(() => AdminServer.StartAsync(world.Node, new IPEndPoint(IPAddress.Any, port), null));
        await Assert.ThrowsAsync<ArgumentException>(() => AdminServer.StartAsync(world.Node, new IPEndPoint(IPAddress.Parse("192.0.2.1"), port), ""));
        await Assert.ThrowsAsync<ArgumentException>(() => AdminServer.StartAsync(world.Node, new IPEndPoint(IPAddress.IPv6Any, port), null));
    }

    [Fact]
    public async Task The_bearer_scheme_is_case_insensitive()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/v1/status");
        request.Headers.TryAddWithoutValidation("Authorization", "bearer " + AdminApiWorld.Token);

        var reply = await SendAsync(world.GuardedHttp, request);

        AssertOk(reply);
    }

    [Fact]
    public async Task A_write_that_no_config_writer_answers_is_503_with_retry_after()
    {
        await using var node = StartWriterlessNode("admin-no-writer");
        await using var server = await AdminServer.StartAsync(node, new IPEndPoint(IPAddress.Loopback, FreePort()), null);
        using var http = new HttpClient { BaseAddress = new Uri($"http://{server.Address}"), Timeout = TimeSpan.FromSeconds(30) };

        var put = await PutAsync(Workload("x", "api-no-writer", "127.3.2.120", "x"), http: http);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, put.Status);
        Assert.Equal(TimeSpan.FromSeconds(1), put.Headers.RetryAfter?.Delta);
        Assert.False(string.IsNullOrEmpty(put.Json.GetProperty("error").GetString()));
    }

    [Fact]
    public async Task Reads_and_deletes_that_no_config_writer_answers_are_503()
    {
        await using var node = StartWriterlessNode("admin-no-writer-read");
        await using var server = await AdminServer.StartAsync(node, new IPEndPoint(IPAddress.Loopback, FreePort()), null);
        using var http = new HttpClient { BaseAddress = new Uri($"http://{server.Address}"), Timeout = TimeSpan.FromSeconds(30) };

        var replies = await Task.WhenAll(GetAsync("/v1/config", http: http), DeleteAsync("/v1/config/WorkloadEntry/api-no-writer/x", http));

        Assert.All(replies, reply =>
        {
            Assert.True(reply.Status == HttpStatusCode.ServiceUnavailable, reply.ToString());
            Assert.False(string.IsNullOrEmpty(reply.Json.GetProperty("error").GetString()));
        });
    }

    [Fact]
    public async Task A_write_answered_503_is_not_applied_later()
    {
        var seedPort = FreePort();
        await using var node = StartWriterlessNode("admin-late-writer", seedPort);
        await using var server = await AdminServer.StartAsync(node, new IPEndPoint(IPAddress.Loopback, FreePort()), null);
        using var http = new HttpClient { BaseAddress = new Uri($"http://{server.Address}"), Timeout = TimeSpan.FromSeconds(30) };
        var put = await PutAsync(Workload("late", "api-late", "127.3.2.121", "late"), http: http);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, put.Status);

        // The seed the node waits for comes up: the cluster forms and gets its config writer.
        await using var seed = RouterNode.Start(new RouterNodeOptions
        {
            Name = $"admin-late-seed-{Guid.NewGuid():N}",
            Overrides = $"akka.loglevel = OFF\nakka.stdout-loglevel = OFF\nakka.remote.dot-netty.tcp.port = {seedPort}\n{SharedAddresses}",
        });
        var empty = Join(Service("late-probe", "api-late", "127.3.2.122"));
        object? probe = null;
        await EventuallyAsync(async () =>
        {
            // On a loaded machine the forming cluster's first writes can outlast the client's timeout: not yet, not a failure.
            try { probe = await PutAsync(empty, http: http); }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { probe = e.Message; return false; }
            return probe is Reply { Status: HttpStatusCode.OK };
        }, () => $"the cluster's writer answers (last: {probe})", TimeSpan.FromSeconds(120));

        var stored = await GetAsync("/v1/config?namespace=api-late", http: http);
        Assert.DoesNotContain("WorkloadEntry/api-late/late", Keys(stored.Body));
    }
}
