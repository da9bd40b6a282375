using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using AkkaL4.Node.Echo;
using Xunit.Abstractions;

namespace AkkaL4.Tests.Chaos;

/// <summary>
/// Real <c>akkal4 run</c> processes (three by default) on the 127.20.x block: node N runs remoting on
/// 127.20.0.N:4053 and its admin API on 127.20.0.N:15000; every node serves the mesh VIP 127.20.1.1:19000
/// (shared through SO_REUSEPORT) and its own gateway 127.20.4.N:19000 (labels node=nN); the upstream
/// echoes on 127.20.2.1:9000; clients come from 127.20.3.x. Every node is given the same two seeds (nodes
/// 1 and 2), so any of them, the first seed included, rejoins a running cluster. The resolver's timings
/// are shortened for tests, layered over the built-in cluster.hocon.
/// </summary>
internal sealed class ChaosCluster : IAsyncDisposable
{
    /// <summary>For a condition to hold: generous, since a restart on a loaded 2-core machine took 27 s of it at load 40.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);
    public static readonly IPEndPoint Vip = IPEndPoint.Parse("127.20.1.1:19000");
    public static IPEndPoint Gateway(int n) => IPEndPoint.Parse($"127.20.4.{n}:19000");
    public const string Prefix = "chaos";

    /// <summary>
    /// Shortened for tests below the built-in values (cluster.hocon), so failover scenarios take seconds less. Not
    /// seed-node-timeout: a restarted first seed must wait as long as in production, or it founds a second cluster.
    /// </summary>
    public const string TestHocon = """
        akka.loglevel = INFO
        akka.cluster {
          split-brain-resolver.stable-after = 2s
          failure-detector { heartbeat-interval = 500ms, acceptable-heartbeat-pause = 2s }
          retry-unsuccessful-join-after = 1s
        }
        akkal4.membership.rejoin-after = 1s
        # The nodes share the mesh VIP on one host, as compose replicas do.
        akkal4.data-plane.reuse-port = on
        """;

    public static readonly string Manifests = string.Join("\n---\n",
    [
        $$"""
        apiVersion: v1
        kind: Service
        metadata: {name: chaos, namespace: default}
        spec:
          clusterIP: 127.20.1.1
          selector: {app: chaos}
          ports: [{name: tcp, port: 19000, targetPort: 9000}]
        """,
        """
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: chaos-1, namespace: default}
        spec: {address: 127.20.2.1, labels: {app: chaos}}
        """,
        ..Enumerable.Range(1, 3).Select(n => $$"""
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: gw-{{n}}, namespace: default}
        spec:
          selector: {node: n{{n}}}
          servers: [{port: {number: 19000, name: tcp, protocol: TCP}, bind: 127.20.4.{{n}}, hosts: ["*"]}]
        """),
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: gateways, namespace: default}
        spec:
          hosts: ["*"]
          gateways: [gw-1, gw-2, gw-3]
          tcp: [{route: [{destination: {host: chaos.default.svc.cluster.local, port: {number: 19000}}}]}]
        """,
    ]);

    private readonly string _root = Path.Combine(Path.GetTempPath(), "akkal4-chaos-" + Guid.NewGuid().ToString("N"));
    private readonly Dictionary<int, Process> _nodes = [];
    private readonly ConcurrentQueue<string> _output = new();
    private readonly ITestOutputHelper _log;
    private readonly int _block;
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(10) };
    public EchoServer Upstream { get; }

    /// <param name="block">The second byte of every address (127.BLOCK.x.x): 20 unless a test class has a block of its own.</param>
    public ChaosCluster(ITestOutputHelper log, int block = 20)
    {
        _log = log;
        _block = block;
        Directory.CreateDirectory(_root);
        File.WriteAllText(Path.Combine(_root, "test.hocon"), TestHocon);
        Upstream = new EchoServer(IPEndPoint.Parse($"127.{block}.2.1:9000"), Prefix);
    }

    public static string Admin(int n) => $"http://127.20.0.{n}:15000";
    public static string Address(int n) => $"akka.tcp://akkal4@127.20.0.{n}:4053";

    /// <summary>Node <paramref name="n"/>'s admin API and cluster address in this cluster's block.</summary>
    public string AdminOf(int n) => $"http://127.{_block}.0.{n}:15000";
    public string AddressOf(int n) => $"akka.tcp://akkal4@127.{_block}.0.{n}:4053";

    /// <summary>A file in this cluster's directory (settings a test layers over <see cref="TestHocon"/>, say).</summary>
    public string FileOf(string name, string content)
    {
        var path = Path.Combine(_root, name);
        File.WriteAllText(path, content);
        return path;
    }

    public Process this[int n] => _nodes[n];

    /// <summary>Arguments every node gets, at every start (a shared journal, say).</summary>
    public string[] CommonArguments { get; init; } = [];

    /// <summary>The nodes every node is given as seeds: 1 and 2; only node 1 for a test that never starts another (it founds at once).</summary>
    public int[] Seeds { get; init; } = [1, 2];

    /// <summary>Starts node <paramref name="n"/> (again, with the same data directory, when it ran before).</summary>
    public Process Start(int n, params string[] extra)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     Path.Combine(AppContext.BaseDirectory, "akkal4.dll"), "run", "--name", $"chaos-{n}", "--labels", $"node=n{n}",
                     "--remoting", $"127.{_block}.0.{n}:4053", "--admin", $"127.{_block}.0.{n}:15000", "--data", Path.Combine(_root, $"n{n}"),
                     "--config", Path.Combine(_root, "test.hocon"),
                 }.Concat(Seeds.SelectMany(s => new[] { "--seed", AddressOf(s) })).Concat(CommonArguments).Concat(extra))
            start.ArgumentList.Add(arg);
        start.Environment.Remove("AKKAL4_ADMIN_TOKEN");
        var process = Process.Start(start)!;
        // Kept for the failure message; drained so the node never blocks on a full pipe.
        process.OutputDataReceived += (_, e) => { if (e.Data is { } line) _output.Enqueue($"[n{n}] {line}"); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } line) _output.Enqueue($"[n{n} err] {line}"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _nodes[n] = process;
        return process;
    }

    /// <summary>The nodes' output (the last lines), for a failure's message; access-log lines (<c>[time] "- - -" …</c>) left out.</summary>
    public string Output(int lines = 150) => string.Join("\n", _output.Where(l => !l.Contains("Z] \"", StringComparison.Ordinal)).TakeLast(lines));

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    public const int SigKill = 9, SigTerm = 15, SigCont = 18, SigStop = 19;

    public void Signal(int n, int signal) => Assert.Equal(0, kill(_nodes[n].Id, signal));

    public async Task KillAsync(int n)
    {
        Signal(n, SigKill);
        await _nodes[n].WaitForExitAsync();
    }

    public async Task<JsonElement?> StatusAsync(int n)
    {
        try
        {
            using var doc = JsonDocument.Parse(await Http.GetStringAsync(AdminOf(n) + "/v1/status"));
            return doc.RootElement.Clone();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    public async Task<int> UpMembersAsync(int n) => await StatusAsync(n) is { } s
        ? s.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Up")
        : 0;

    /// <summary>The status of the member at <paramref name="address"/> as node <paramref name="n"/> sees it (null: not a member; "(no answer)").</summary>
    public async Task<string?> MemberStatusAsync(int n, string address) => await StatusAsync(n) is { } s
        ? s.GetProperty("members").EnumerateArray().Where(m => m.GetProperty("address").GetString() == address).Select(m => m.GetProperty("status").GetString()).FirstOrDefault()
        : "(no answer)";

    /// <summary>Everything node <paramref name="n"/> wrote to its standard output (its log), line by line, without the tag.</summary>
    public IReadOnlyList<string> OutputOf(int n) =>
        _output.Where(l => l.StartsWith($"[n{n}] ", StringComparison.Ordinal)).Select(l => l[$"[n{n}] ".Length..]).ToList();

    public async Task<bool> InClusterAsync(int n) =>
        await StatusAsync(n) is { } s && s.GetProperty("membership").GetProperty("inCluster").GetBoolean();

    /// <summary>The revision of an acknowledged write (200), else null; <paramref name="wait"/>: also in force on every reachable node.</summary>
    public async Task<long?> PutAsync(int n, string yaml, bool wait = true)
    {
        try
        {
            using var response = await Http.PutAsync(AdminOf(n) + "/v1/config" + (wait ? "?wait=true" : ""), new StringContent(yaml, Encoding.UTF8, "application/yaml"));
            if (response.StatusCode != HttpStatusCode.OK) return null;
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("revision").GetInt64();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>Waits for a condition with a deadline; the failure message carries the nodes' output.</summary>
    public async Task EventuallyAsync(Func<Task<bool>> condition, string what, TimeSpan? patience = null)
    {
        var deadline = DateTime.UtcNow + (patience ?? Patience);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting: {what}\n--- nodes' output\n{Output()}");
            await Task.Delay(200);
        }
    }

    /// <summary>
    /// Three nodes in one cluster, routing by revision 1. Node 1 founds it, started with the others: the second seed,
    /// not yet in a cluster, answers its InitJoin with a refusal, so it need not wait out seed-node-timeout.
    /// </summary>
    public async Task StartThreeAsync()
    {
        Start(1);
        Start(2);
        Start(3);
        await EventuallyAsync(async () => await InClusterAsync(1), "node 1 founds the cluster");
        await EventuallyAsync(async () => await UpMembersAsync(1) == 3, "three members up");
        long? revision = null;
        await EventuallyAsync(async () => (revision = await PutAsync(3, Manifests)) is not null, "the first write");
        Assert.Equal(1, revision);
        foreach (var n in new[] { 1, 2, 3 })
            await EventuallyAsync(async () => await Line(Gateway(n)) == $"{Prefix} ping", $"node {n}'s gateway routes");
    }

    public static Task<string> Line(IPEndPoint destination) =>
        LineClient.SendAsync(IPAddress.Parse("127.20.3.1"), destination, "ping", TimeSpan.FromSeconds(10));

    /// <summary>The figure line every scenario prints, to the test's output and to the console (the CI log).</summary>
    public void Figure(string name, Traffic.Counts traffic, int acked, int lost, TimeSpan recovery)
    {
        Report(_log, name, acked, lost, recovery.TotalSeconds,
            $"connections ok={traffic.Ok} failed={traffic.Failed} retried={traffic.Retried} corrupted={traffic.Corrupted}");
    }

    /// <summary>Names the file the figure lines go to (.ci/run sets it to a file of its own and prints it at the end).</summary>
    public const string FiguresVariable = "AKKAL4_CHAOS_FIGURES";

    /// <summary>
    /// Where the figure lines also go (dotnet test shows no test's console at its default verbosity): the file the run names,
    /// never one shared by every run on the machine, whose figures then read as one run's (session 18: a helper's failed run
    /// in .ci/run's summary). A run that names none writes none: each test process's own file was left behind in /tmp
    /// (review1-s19 R5), and the lines are in the test's output and on the console anyway.
    /// </summary>
    public static readonly string? FiguresFile = FiguresFileOf(Environment.GetEnvironmentVariable(FiguresVariable));

    /// <summary>One line at a time into the file (scenarios of one process may report at once).</summary>
    private static readonly object FiguresLock = new();

    /// <summary>The file <paramref name="named"/> (the variable's value), or none.</summary>
    internal static string? FiguresFileOf(string? named) => named is { Length: > 0 } ? named : null;

    /// <summary>
    /// Every chaos scenario's one figure line, in one form: <c>chaos NAME: acked=… lost=… recovery=…s</c> (acknowledged
    /// writes, those of them missing afterwards, seconds to recover), then what else the scenario counts.
    /// </summary>
    public static void Report(ITestOutputHelper log, string name, int acked, int lost, double recoverySeconds, string? more = null)
    {
        var line = FormattableString.Invariant($"chaos {name}: acked={acked} lost={lost} recovery={recoverySeconds:0.0}s") + (more is null ? "" : " " + more);
        log.WriteLine(line);
        Console.WriteLine(line);
        if (FiguresFile is { } figures)
            lock (FiguresLock) File.AppendAllText(figures, line + "\n");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var p in _nodes.Values)
        {
            try
            {
                if (p.HasExited) continue;
                kill(p.Id, SigCont);
                p.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
        }
        foreach (var p in _nodes.Values)
        {
            await p.WaitForExitAsync();
            p.Dispose();
        }
        await Upstream.DisposeAsync();
        Http.Dispose();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}

/// <summary>
/// Continuous client connections: each sends a random line and checks the echo byte for byte (a wrong
/// answer is corrupted; no answer, a reset or a refusal is failed).
/// </summary>
internal sealed class Traffic : IAsyncDisposable
{
    /// <summary><paramref name="Retried"/>: connections reset before they answered and then sent again (only with retryResets).</summary>
    public sealed record Counts(int Ok, int Failed, int Corrupted, IReadOnlyList<string> Failures, int Retried = 0);

    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _loops;
    private int _ok, _failed, _corrupted, _retried;
    private readonly ConcurrentQueue<string> _failures = new();
    private readonly bool _retryResets;

    /// <param name="retryResets">
    /// Send a line once more when its connection was reset, as a client behind a shared SO_REUSEPORT address
    /// would: a connection that completes its handshake between a draining listener's last accept and its close
    /// is reset by the kernel (unless net.ipv4.tcp_migrate_req is set), and such resets are counted as retried.
    /// </param>
    public Traffic(Func<IPEndPoint> destination, int clients = 4, bool retryResets = false)
    {
        _retryResets = retryResets;
        _loops = Enumerable.Range(1, clients).Select(c => Task.Run(() => Loop(destination, c))).ToArray();
    }

    private async Task Loop(Func<IPEndPoint> destination, int client)
    {
        var source = IPAddress.Parse($"127.20.3.{10 + client}");
        while (!_stop.IsCancellationRequested)
        {
            var line = Convert.ToHexString(Guid.NewGuid().ToByteArray()) + Convert.ToHexString(Guid.NewGuid().ToByteArray());
            var to = destination();
            var answer = await LineClient.SendAsync(source, to, line, TimeSpan.FromSeconds(15));
            if (_retryResets && answer.StartsWith("(ConnectionReset"))
            {
                Interlocked.Increment(ref _retried);
                _failures.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {to}: {answer} (sent again)");
                answer = await LineClient.SendAsync(source, to, line, TimeSpan.FromSeconds(15));
            }
            if (answer == $"{ChaosCluster.Prefix} {line}") Interlocked.Increment(ref _ok);
            else if (answer.StartsWith('(')) { Interlocked.Increment(ref _failed); _failures.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {to}: {answer}"); }
            else { Interlocked.Increment(ref _corrupted); _failures.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {to}: corrupted '{answer}'"); }
            await Task.Delay(20);
        }
    }

    public Counts Now => new(Volatile.Read(ref _ok), Volatile.Read(ref _failed), Volatile.Read(ref _corrupted), _failures.ToList(), Volatile.Read(ref _retried));

    public async Task<Counts> StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops);
        return Now;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested) await StopAsync();
        _stop.Dispose();
    }
}
