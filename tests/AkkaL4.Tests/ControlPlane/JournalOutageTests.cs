using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AkkaL4.Node.Echo;
using AkkaL4.Tests.Support;
using Xunit.Abstractions;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// Three real `akkal4 run` processes sharing a real PostgreSQL journal; PostgreSQL goes down (fast
/// shutdown) and comes back. While it is down every node keeps routing by its last configuration and a
/// write is not acknowledged; once it is back writes resume, every node gets the new revision, and the
/// configuration acknowledged before the outage is still there.
/// </summary>
/// <remarks>
/// Addresses: node n's remoting and admin API on 127.5.1.n (ports 4053, 15000); node n serves only the
/// Gateway gw-n (<c>--labels node=n --mesh false</c>), bound to 127.5.4.n:19000, so a client reaches
/// each node on its own address; upstreams on 127.5.5.1:9000 ("one") and 127.5.5.2:9000 ("two");
/// clients connect from 127.5.6.1.
/// </remarks>
[Collection(ProcessesCollection.Name)]
[Trait("Category", "Chaos")]
[Trait("Category", "Postgres")]
public sealed class JournalOutageTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private static readonly int[] Nodes = [1, 2, 3];
    private readonly string _root = Path.Combine(Path.GetTempPath(), "akkal4-outage-" + Guid.NewGuid().ToString("N"));
    private readonly PostgresServer _postgres = new() { Throwaway = true };
    private readonly List<(int N, Process Process, ConcurrentQueue<string> Log)> _nodes = [];
    // Longer than the admin API's wait for the writer (ConfigClient.Timeout, 10 s): a write that hangs past it is a finding.
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly List<EchoServer> _upstreams = [];
    private bool _disposed;

    private static string Admin(int n) => $"http://127.5.1.{n}:15000";

    private static string Gateway(int n) => $$"""
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: gw-{{n}}, namespace: default}
        spec:
          selector: {node: "{{n}}"}
          servers:
          - port: {number: 19000, name: tcp, protocol: TCP}
            bind: 127.5.4.{{n}}
            hosts: ["*"]
        """;

    private static string Upstream(string name, int n) => $$$"""
        apiVersion: v1
        kind: Service
        metadata: {name: echo-{{{name}}}, namespace: default}
        spec:
          clusterIP: 127.5.4.{{{10 * n}}}
          selector: {app: {{{name}}}}
          ports: [{name: tcp, port: 19000, targetPort: 9000}]
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: echo-{{{name}}}, namespace: default}
        spec: {address: 127.5.5.{{{n}}}, labels: {app: {{{name}}}}}
        """;

    private static string Front(string upstream) => $$$"""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: front, namespace: default}
        spec:
          hosts: ["*"]
          gateways: [gw-1, gw-2, gw-3]
          tcp:
          - route:
            - destination: {host: echo-{{{upstream}}}.default.svc.cluster.local, port: {number: 19000}}
        """;

    /// <summary>Revision 1: the gateways, both upstreams, and the front VirtualService to "one".</summary>
    private static readonly string Base = string.Join("\n---\n", Gateway(1), Gateway(2), Gateway(3), Upstream("one", 1), Upstream("two", 2), Front("one"));

    /// <summary>The write attempted while the journal is down: the front VirtualService to "two".</summary>
    private static readonly string DuringOutage = Front("two");

    /// <summary>
    /// The write after the journal is back: the same change plus one more resource, so that a write that had
    /// been applied during the outage after all would show up as a revision too many.
    /// </summary>
    private static readonly string AfterOutage = Front("two") + "\n---\n" + """
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: late, namespace: default}
        spec: {address: 127.5.5.9, labels: {app: late}}
        """;

    public async Task InitializeAsync()
    {
        try
        {
            Directory.CreateDirectory(_root);
            _upstreams.Add(new EchoServer(IPEndPoint.Parse("127.5.5.1:9000"), "one"));
            _upstreams.Add(new EchoServer(IPEndPoint.Parse("127.5.5.2:9000"), "two"));
            await _postgres.InitializeAsync();
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    /// <summary>Kills the nodes, stops the upstreams and PostgreSQL, removes every directory (once; whatever state the test left).</summary>
    public async Task DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            foreach (var (_, p, _) in _nodes.Where(x => !x.Process.HasExited)) p.Kill(entireProcessTree: true);
            foreach (var (n, p, log) in _nodes)
            {
                await p.WaitForExitAsync();
                p.Dispose();
                output.WriteLine($"----- node {n} (last 150 lines)");
                foreach (var line in log.TakeLast(150)) output.WriteLine(line);
            }
            foreach (var upstream in _upstreams) await upstream.DisposeAsync();
            _http.Dispose();
        }
        finally
        {
            try
            {
                // Stopped or running, the server goes and its data directory with it.
                await _postgres.DisposeAsync();
            }
            finally
            {
                if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
            }
        }
    }

    private void StartNode(int n)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     Path.Combine(AppContext.BaseDirectory, "akkal4.dll"), "run", "--name", $"outage-{n}",
                     "--remoting", $"127.5.1.{n}:4053", "--admin", $"127.5.1.{n}:15000", "--data", Path.Combine(_root, $"n{n}"),
                     "--labels", $"node={n}", "--mesh", "false",
                     "--journal-provider", "postgres", "--journal-connection", _postgres.ConnectionString,
                 }.Concat(n == 1 ? [] : ["--seed", "akka.tcp://akkal4@127.5.1.1:4053"]))
            start.ArgumentList.Add(arg);
        start.Environment.Remove("AKKAL4_ADMIN_TOKEN");
        var process = Process.Start(start)!;
        var log = new ConcurrentQueue<string>();
        // Drain the output (so the node never blocks on a full pipe) and keep it for a failure's report.
        process.OutputDataReceived += (_, e) => Keep(log, e.Data);
        process.ErrorDataReceived += (_, e) => Keep(log, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _nodes.Add((n, process, log));
    }

    private static void Keep(ConcurrentQueue<string> log, string? line)
    {
        if (line is null) return;
        log.Enqueue(line);
        while (log.Count > 2000) log.TryDequeue(out _);
    }

    /// <summary>Polls <paramref name="attempt"/> until it returns a value, for up to <paramref name="patience"/>.</summary>
    private static async Task<T> Eventually<T>(Func<Task<T?>> attempt, string what, TimeSpan? patience = null) where T : class
    {
        var deadline = DateTime.UtcNow + (patience ?? Patience);
        string? last = null;
        while (true)
        {
            try
            {
                if (await attempt() is { } result) return result;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or KeyNotFoundException or JsonException)
            {
                last = e.Message;
            }
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting: {what}{(last is null ? "" : $" (last error: {last})")}");
            await Task.Delay(200);
        }
    }

    private async Task<JsonElement> Status(int n)
    {
        using var doc = JsonDocument.Parse(await _http.GetStringAsync(Admin(n) + "/v1/status"));
        return doc.RootElement.Clone();
    }

    private async Task<long> Revision(int n) => (await Status(n)).GetProperty("revision").GetInt64();

    /// <summary>A PUT of <paramref name="yaml"/> through node <paramref name="n"/>: its status, its body, and how long it took.</summary>
    private async Task<(HttpStatusCode Status, JsonElement Body, TimeSpan Took)> Put(int n, string yaml)
    {
        var clock = Stopwatch.StartNew();
        using var response = await _http.PutAsync(Admin(n) + "/v1/config?wait=true", new StringContent(yaml, Encoding.UTF8, "application/yaml"));
        var text = await response.Content.ReadAsStringAsync();
        var body = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return (response.StatusCode, body, clock.Elapsed);
    }

    /// <summary>A PUT retried until it is acknowledged (200); its revision and per-resource actions.</summary>
    private async Task<JsonElement> Acknowledged(int n, string yaml) => (JsonElement)await Eventually<object>(async () =>
    {
        var (status, body, took) = await Put(n, yaml);
        output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} PUT via node {n}: {(int)status} after {took.TotalSeconds:0.0}s");
        return status == HttpStatusCode.OK ? body : null;
    }, $"a write through node {n} acknowledged with 200");

    /// <summary>One line through node <paramref name="n"/>'s gateway: the upstream's answer, or what went wrong.</summary>
    private static Task<string> Line(int n) =>
        LineClient.SendAsync(IPAddress.Parse("127.5.6.1"), IPEndPoint.Parse($"127.5.4.{n}:19000"), "ping", TimeSpan.FromSeconds(10));

    private static async Task AssertEveryNodeRoutesTo(string upstream, string when)
    {
        foreach (var n in Nodes)
            Assert.True(await Line(n) is var answer && answer == $"{upstream} ping", $"{when}: node {n} answered '{answer}', not '{upstream} ping'");
    }

    [Fact]
    public async Task With_the_journal_down_nodes_keep_routing_writes_are_not_acknowledged_and_after_it_returns_writes_resume_with_nothing_lost()
    {
        var clock = Stopwatch.StartNew();
        void Step(string what) => output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} [{clock.Elapsed.TotalSeconds,5:0.0}s] {what}");

        // 1. Three nodes, one cluster, a configuration written through node 2 (the writer runs on node 1, the oldest).
        StartNode(1);
        await Eventually(async () => (await Status(1)).GetProperty("members").GetArrayLength() >= 1 ? "" : null, "node 1 up");
        StartNode(2);
        StartNode(3);
        await Eventually(async () => (await Status(1)).GetProperty("members").EnumerateArray()
            .Count(m => m.GetProperty("status").GetString() == "Up") == 3 ? "" : null, "three members up");
        Step("three members up");

        var first = await Acknowledged(2, Base);
        Assert.Equal(1, first.GetProperty("revision").GetInt64());
        foreach (var n in Nodes)
            await Eventually(async () => await Revision(n) >= 1 && await Line(n) == "one ping" ? "" : null, $"node {n} routes revision 1 to 'one'");
        Step("revision 1 in force and routed on every node");

        // 2. The journal goes down.
        await _postgres.StopAsync();
        Step("PostgreSQL stopped");

        // (a) Every node keeps routing new connections by its last configuration.
        await AssertEveryNodeRoutesTo("one", "with the journal down");

        // (b) A write is not acknowledged (a failed journal write may or may not have stored it, so the answer is
        // "outcome unknown", not "nothing was applied"), and nothing of it reaches any node.
        var (refused, refusal, took) = await Put(3, DuringOutage);
        Step($"write with the journal down: {(int)refused} after {took.TotalSeconds:0.0}s: {refusal}");
        Assert.Equal(HttpStatusCode.GatewayTimeout, refused);
        Assert.Equal("unknown", refusal.GetProperty("outcome").GetString());
        foreach (var n in Nodes) Assert.Equal(1, await Revision(n));
        foreach (var n in Nodes)
            Assert.All((await Status(n)).GetProperty("members").EnumerateArray(), m => Assert.Equal(1, m.GetProperty("revision").GetInt64()));
        await AssertEveryNodeRoutesTo("one", "after a refused write");

        // 3. The journal comes back: writes resume, at the next revision (the refused write never happened).
        await _postgres.StartAsync();
        Step("PostgreSQL started again");
        var second = await Acknowledged(1, AfterOutage);
        Step($"write acknowledged after the outage: {second}");
        Assert.Equal(2, second.GetProperty("revision").GetInt64());
        foreach (var n in Nodes)
            await Eventually(async () => await Revision(n) >= 2 && await Line(n) == "two ping" ? "" : null, $"node {n} routes revision 2 to 'two'");
        foreach (var n in Nodes) Assert.Equal(2, await Revision(n));

        // What was acknowledged before the outage is still there, as stored by the writer (from its journal).
        using var request = new HttpRequestMessage(HttpMethod.Get, Admin(3) + "/v1/config");
        request.Headers.Accept.ParseAdd("application/json");
        using var stored = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        Assert.Equal("2", stored.Headers.GetValues("X-AkkaL4-Revision").Single());
        var items = (await stored.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray()
            .Select(i => $"{i.GetProperty("kind").GetString()}/{i.GetProperty("metadata").GetProperty("name").GetString()}").Order(StringComparer.Ordinal);
        Assert.Equal(
            ["Gateway/gw-1", "Gateway/gw-2", "Gateway/gw-3", "Service/echo-one", "Service/echo-two", "VirtualService/front",
             "WorkloadEntry/echo-one", "WorkloadEntry/echo-two", "WorkloadEntry/late"],
            items);
        Step("revision 2 in force on every node; revision 1's resources all stored");
    }
}
