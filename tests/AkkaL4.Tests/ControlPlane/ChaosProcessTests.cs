using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AkkaL4.Actors;
using AkkaL4.Node.Echo;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// Three real `akkal4 run` processes in one cluster: the config writer's node is killed with SIGKILL;
/// routing goes on without a control plane, and after the split-brain resolver downs the dead node
/// (the built-in settings) writes work again through another node.
/// </summary>
[Trait("Category", "Chaos")]
public sealed class ChaosProcessTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "akkal4-chaos-" + Guid.NewGuid().ToString("N"));
    private readonly List<Process> _nodes = [];
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(20) };
    private EchoServer? _upstream;

    private static string Admin(int n) => $"http://127.5.0.{n}:15000";

    private const string Config = """
        apiVersion: v1
        kind: Service
        metadata: {name: chaos, namespace: default}
        spec:
          clusterIP: 127.5.1.1
          selector: {app: chaos}
          ports: [{name: tcp, port: 19000, targetPort: 9000}]
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: chaos-1, namespace: default}
        spec: {address: 127.5.2.1, labels: {app: chaos}}
        """;

    private const string Extra = """
        apiVersion: v1
        kind: Service
        metadata: {name: chaos-two, namespace: default}
        spec:
          clusterIP: 127.5.1.2
          selector: {app: chaos}
          ports: [{name: tcp, port: 19000, targetPort: 9000}]
        """;

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        _upstream = new EchoServer(IPEndPoint.Parse("127.5.2.1:9000"), "chaos");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var p in _nodes.Where(p => !p.HasExited)) p.Kill(entireProcessTree: true);
        foreach (var p in _nodes) { await p.WaitForExitAsync(); p.Dispose(); }
        if (_upstream is not null) await _upstream.DisposeAsync();
        _http.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private Process StartNode(int n, bool seed)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     Path.Combine(AppContext.BaseDirectory, "akkal4.dll"), "run", "--name", $"chaos-{n}",
                     "--remoting", $"127.5.0.{n}:4053", "--admin", $"127.5.0.{n}:15000", "--data", Path.Combine(_root, $"n{n}"),
                 }.Concat(seed ? [] : new[] { "--seed", "akka.tcp://akkal4@127.5.0.1:4053" }))
            start.ArgumentList.Add(arg);
        // The nodes share the mesh VIP on one host, as compose replicas do.
        start.Environment["AKKAL4_HOCON"] = "akkal4.data-plane.reuse-port = on";
        var process = Process.Start(start)!;
        // Drain the output so the node never blocks on a full pipe.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _nodes.Add(process);
        return process;
    }

    private async Task<T> Eventually<T>(Func<Task<T?>> attempt, string what) where T : class
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            try
            {
                if (await attempt() is { } result) return result;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // not up yet
            }
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting: {what}");
            await Task.Delay(200);
        }
    }

    private async Task<JsonElement?> Status(int n)
    {
        using var doc = JsonDocument.Parse(await _http.GetStringAsync(Admin(n) + "/v1/status"));
        return doc.RootElement.Clone();
    }

    private async Task<long?> Put(int n, string yaml)
    {
        using var response = await _http.PutAsync(Admin(n) + "/v1/config?wait=true", new StringContent(yaml, Encoding.UTF8, "application/yaml"));
        if (response.StatusCode != HttpStatusCode.OK) return null;
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("revision").GetInt64();
    }

    private static async Task<string> Line(string destination) =>
        await LineClient.SendAsync(IPAddress.Parse("127.5.3.1"), IPEndPoint.Parse(destination), "ping", TimeSpan.FromSeconds(10));

    [Fact]
    public async Task Killing_the_writers_node_keeps_routing_and_writes_resume_on_the_survivors()
    {
        var first = StartNode(1, seed: true);
        await Eventually(async () => (await Status(1))?.GetProperty("members").GetArrayLength() >= 1 ? "" : null, "node 1 up");
        StartNode(2, seed: false);
        StartNode(3, seed: false);
        await Eventually(async () => (await Status(1))!.Value.GetProperty("members").EnumerateArray()
            .Count(m => m.GetProperty("status").GetString() == "Up") == 3 ? "" : null, "three members up");

        // Written through node 3; the writer runs on node 1, the oldest.
        var one = await Eventually(async () => (await Put(3, Config))?.ToString(), "the first write");
        Assert.Equal("1", one);
        Assert.Equal("akka.tcp://akkal4@127.5.0.1:4053", (await Status(2))!.Value.GetProperty("configWriter").GetString());
        Assert.Equal("chaos ping", await Line("127.5.1.1:19000"));

        first.Kill(entireProcessTree: true); // SIGKILL: no leaving, no hand-over
        await first.WaitForExitAsync();

        // The data plane does not need the control plane: the survivors keep routing at once.
        for (var i = 0; i < 5; i++) Assert.Equal("chaos ping", await Line("127.5.1.1:19000"));

        // Once the dead node is downed, the writer runs on a survivor and writes resume where they were.
        var two = await Eventually(async () => (await Put(2, Config + "\n---\n" + Extra))?.ToString(), "a write after the writer's node died");
        Assert.Equal("2", two);
        Assert.Equal(2, (await Status(3))!.Value.GetProperty("revision").GetInt64());
        Assert.Equal("chaos ping", await Eventually(async () => await Line("127.5.1.2:19000") is "chaos ping" ? "chaos ping" : null, "the new listener on a survivor"));
    }
}
