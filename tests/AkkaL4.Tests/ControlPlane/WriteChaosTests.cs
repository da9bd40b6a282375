using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using AkkaL4.Node.Echo;
using AkkaL4.Tests.Support;
using Xunit.Abstractions;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// The write contract under failure, on three real <c>akkal4 run</c> processes with the built-in (production)
/// timings and one real PostgreSQL journal, shared by the scenarios in turn: a poison configuration; writes while a
/// node is SIGSTOPped; the writer's node killed under continuous writes through the others; a full restart; a
/// 10,000-Service configuration through a non-writer; just under 4 MiB of barely compressible text through a
/// non-writer; majority loss. Each prints one figure line
/// (<c>chaos NAME: acked=… lost=… recovery=…s</c>). "Lost" counts acknowledged writes missing from a node's
/// configuration in force (its last-known-good file, written as it applies a revision).
/// </summary>
/// <remarks>
/// Addresses: node N's remoting and admin API on 127.10.0.N (4053, 15000), every node given nodes 1 and 2 as seeds;
/// the mesh VIP 127.10.1.1:19000 (shared through SO_REUSEPORT) to the echo upstream 127.10.2.1:9000; clients from 127.10.3.1.
/// </remarks>
[Collection(ProcessesCollection.Name)]
[Trait("Category", "Chaos")]
[Trait("Category", "Postgres")]
public sealed class WriteChaosTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "akkal4-writes-" + Guid.NewGuid().ToString("N"));
    private readonly PostgresServer _postgres = new();
    private readonly Dictionary<int, Process> _nodes = [];
    private readonly ConcurrentQueue<string> _log = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };
    private readonly Dictionary<string, long> _acked = [];
    private EchoServer? _upstream;

    private static string Admin(int n) => $"http://127.10.0.{n}:15000";

    private const string Base = """
        apiVersion: v1
        kind: Service
        metadata: {name: echo, namespace: default}
        spec:
          clusterIP: 127.10.1.1
          selector: {app: echo}
          ports: [{name: tcp, port: 19000, targetPort: 9000}]
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: echo-1, namespace: default}
        spec: {address: 127.10.2.1, labels: {app: echo}}
        """;

    /// <summary>One small write: a WorkloadEntry of its own in namespace "writes".</summary>
    private static string Entry(string name) => $$$"""
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: {{{name}}}, namespace: writes}
        spec: {address: 127.10.9.9, labels: {app: {{{name}}}}}
        """;

    /// <summary><paramref name="count"/> headless Services (no listener each: the size is under test, not binding).</summary>
    internal static string Services(int count) => string.Join("\n---\n", Enumerable.Range(0, count).Select(i => $$$"""
        apiVersion: v1
        kind: Service
        metadata: {name: svc-{{{i}}}, namespace: big-{{{i % 10}}}}
        spec:
          clusterIP: None
          selector: {app: svc-{{{i}}}}
          ports: [{name: tcp, port: {{{1000 + i % 50000}}}, targetPort: 9000}]
        """));

    /// <summary>
    /// WorkloadEntries in namespace "noise", each with an annotation of random base64 (gzip saves only about a quarter
    /// of it), filling the admin API's limit but for a few KB: its size is not carried by compression.
    /// </summary>
    internal static string Incompressible(int limit)
    {
        var random = new Random(10);
        var documents = new List<string>();
        for (var size = 0; ; )
        {
            var noise = new byte[2900];
            random.NextBytes(noise);
            var document = $$$"""
                apiVersion: networking.istio.io/v1
                kind: WorkloadEntry
                metadata: {name: noise-{{{documents.Count}}}, namespace: noise, annotations: {noise: {{{Convert.ToBase64String(noise)}}}}}
                spec: {address: 127.10.9.8, labels: {app: noise}}
                """;
            if (size + document.Length + 5 > limit - 4096) return string.Join("\n---\n", documents);
            size += document.Length + 5;
            documents.Add(document);
        }
    }

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        _upstream = new EchoServer(IPEndPoint.Parse("127.10.2.1:9000"), "echo");
        await _postgres.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var p in _nodes.Values.Where(p => !p.HasExited)) p.Kill(entireProcessTree: true);
        foreach (var p in _nodes.Values) { await p.WaitForExitAsync(); p.Dispose(); }
        foreach (var line in _log.TakeLast(200)) output.WriteLine(line);
        if (_upstream is not null) await _upstream.DisposeAsync();
        _http.Dispose();
        await _postgres.DisposeAsync();
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private void Start(int n)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     Path.Combine(AppContext.BaseDirectory, "akkal4.dll"), "run", "--name", $"writes-{n}",
                     "--remoting", $"127.10.0.{n}:4053", "--admin", $"127.10.0.{n}:15000", "--data", Path.Combine(_root, $"n{n}"),
                     "--journal-provider", "postgres", "--journal-connection", _postgres.ConnectionString,
                     "--seed", "akka.tcp://akkal4@127.10.0.1:4053", "--seed", "akka.tcp://akkal4@127.10.0.2:4053",
                 })
            start.ArgumentList.Add(arg);
        start.Environment.Remove("AKKAL4_ADMIN_TOKEN");
        // The nodes share the mesh VIP on one host, as compose replicas do.
        start.Environment["AKKAL4_HOCON"] = "akkal4.data-plane.reuse-port = on";
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => Keep($"[n{n}] {e.Data}");
        process.ErrorDataReceived += (_, e) => Keep($"[n{n} err] {e.Data}");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _nodes[n] = process;
    }

    /// <summary>Akka's lines about heartbeats and reachability, as the nodes logged them (from <see cref="Keep"/>).</summary>
    private readonly ConcurrentQueue<string> _membership = new();

    private void Keep(string line)
    {
        if (line.Contains("as UNREACHABLE", StringComparison.Ordinal) || line.Contains("heartbeat interval is growing too large", StringComparison.Ordinal)
            || line.Contains("sending of heartbeat was delayed", StringComparison.Ordinal) || line.Contains("SBR took decision", StringComparison.Ordinal)
            || line.Contains("serializer: ", StringComparison.Ordinal))
            _membership.Enqueue(line);
        if (line.Contains("access", StringComparison.Ordinal) && line.Contains("bytes", StringComparison.Ordinal)) return;
        _log.Enqueue(line);
        while (_log.Count > 3000) _log.TryDequeue(out _);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    private void Signal(int n, int signal) => Assert.Equal(0, kill(_nodes[n].Id, signal));

    private async Task KillAsync(int n)
    {
        Signal(n, 9);
        await _nodes[n].WaitForExitAsync();
    }

    // To the test's output, the console and the figures file that .ci/run prints at the end.
    private void Figure(string name, int acked, int lost, double recovery) =>
        Chaos.ChaosCluster.Report(output, name, acked, lost, recovery);

    private async Task Eventually(Func<Task<bool>> condition, string what, TimeSpan? patience = null)
    {
        var deadline = DateTime.UtcNow + (patience ?? Patience);
        while (true)
        {
            try
            {
                if (await condition()) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException or InvalidOperationException)
            {
                // not (yet) answering
            }
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting: {what}\n{string.Join("\n", _log.TakeLast(80))}");
            await Task.Delay(200);
        }
    }

    /// <summary>
    /// What the nodes logged about heartbeats since <paramref name="since"/> (a count of <see cref="_membership"/>): the
    /// split-brain resolver's downing decisions, members marked unreachable (Akka's "Marking node(s) as UNREACHABLE"; not
    /// exiting ones), and the longest heartbeat gap, in ms (a peer's heard late, "heartbeat interval is growing too large …
    /// N millis", logged from 2/3 of acceptable-heartbeat-pause; or one of its own sent late, "Previous heartbeat was sent
    /// [N] ms ago"; 0 when none was).
    /// </summary>
    private (List<string> Downed, List<string> Unreachable, double LongestGap, string Remoting) Heartbeats(int since)
    {
        var lines = _membership.Skip(since).ToList();
        foreach (var line in lines.Where(l => l.Contains("serializer: ", StringComparison.Ordinal))) output.WriteLine(line);
        var downed = lines.Where(l => l.Contains("SBR took decision", StringComparison.Ordinal)).ToList();
        var unreachable = lines.Where(l => l.Contains("Marking node(s) as UNREACHABLE", StringComparison.Ordinal)).ToList();
        var late = lines.Select(l => System.Text.RegularExpressions.Regex.Match(l, @"(?:: (\d+) millis|was sent \[([\d.]+)\] ms ago)"))
            .Where(m => m.Success).Select(m => double.Parse(m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
        // The node's slow encodes and decodes (ProtocolSerializer logs those of 100 ms or more) on remoting's threads,
        // where heartbeats wait behind them: how many, and the longest.
        var remoting = lines.Select(l => System.Text.RegularExpressions.Regex.Match(l, @"serializer: .* in (\d+) ms for Akka\.Remote"))
            .Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        return (downed, unreachable, late.DefaultIfEmpty(0).Max(), $"remoting-serialization={remoting.Count}x/{remoting.DefaultIfEmpty(0).Max()}ms");
    }

    private async Task<JsonElement> Status(int n)
    {
        using var doc = JsonDocument.Parse(await _http.GetStringAsync(Admin(n) + "/v1/status"));
        return doc.RootElement.Clone();
    }

    private async Task<int> Incarnation(int n) => (await Status(n)).GetProperty("membership").GetProperty("incarnation").GetInt32();

    private async Task<long> Revision(int n) => (await Status(n)).GetProperty("revision").GetInt64();

    /// <summary>The node the live nodes name as the config writer's host, once one in the cluster names a running one:
    /// under load a hung node coming back can get a healthy one downed, which names no writer while it rejoins.</summary>
    private async Task<int> Writer()
    {
        var writer = 0;
        await Eventually(async () =>
        {
            foreach (var n in _nodes.Keys.Where(n => !_nodes[n].HasExited))
            {
                string? address;
                try { address = (await Status(n)).GetProperty("configWriter").GetString(); }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { continue; }
                writer = _nodes.Keys.SingleOrDefault(m => !_nodes[m].HasExited && address == $"akka.tcp://akkal4@127.10.0.{m}:4053");
                if (writer != 0) return true;
            }
            return false;
        }, "a live node names the config writer's host");
        return writer;
    }

    /// <summary>A PUT: its status, body and time taken (a transport failure is status 0).</summary>
    private async Task<(int Status, JsonElement Body, double Seconds)> Put(int n, string yaml)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            using var response = await _http.PutAsync(Admin(n) + "/v1/config", new StringContent(yaml, Encoding.UTF8, "application/yaml"));
            var text = await response.Content.ReadAsStringAsync();
            return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone(), clock.Elapsed.TotalSeconds);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return (0, default, clock.Elapsed.TotalSeconds);
        }
    }

    /// <summary>Writes Entry(name) through node n; an acknowledged one (200) is remembered with its revision.</summary>
    private async Task<int> Write(int n, string name)
    {
        var (status, body, _) = await Put(n, Entry(name));
        if (status == 200) lock (_acked) _acked[name] = body.GetProperty("revision").GetInt64();
        return status;
    }

    /// <summary>How many writes whose names start with <paramref name="prefix"/> were acknowledged.</summary>
    private int Acked(string prefix)
    {
        lock (_acked) return _acked.Keys.Count(name => name.StartsWith(prefix, StringComparison.Ordinal));
    }

    /// <summary>Acknowledged writes missing from node n's configuration in force, once it is at the newest acknowledged revision.</summary>
    private async Task<int> Lost(int n)
    {
        long newest;
        lock (_acked) newest = _acked.Values.DefaultIfEmpty(0).Max();
        await Eventually(async () => await Revision(n) >= newest, $"node {n} at revision {newest}");
        // A node reports a revision in force a moment before its last-known-good copy is on disk: read the copy
        // again for a while before counting what it lacks as lost.
        var path = Path.Combine(_root, $"n{n}", "last-known-good.yaml");
        for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15); ; await Task.Delay(250))
        {
            var text = await File.ReadAllTextAsync(path);
            int missing;
            lock (_acked) missing = _acked.Keys.Count(name => !text.Contains($"name: {name}\n", StringComparison.Ordinal));
            if (missing == 0 || DateTime.UtcNow > deadline) return missing;
        }
    }

    private static async Task<string> Line() =>
        await LineClient.SendAsync(IPAddress.Parse("127.10.3.1"), IPEndPoint.Parse("127.10.1.1:19000"), "ping", TimeSpan.FromSeconds(10));

    private async Task StartCluster()
    {
        Start(1);
        await Eventually(async () => (await Status(1)).GetProperty("members").GetArrayLength() >= 1, "node 1 up");
        Start(2);
        Start(3);
        await Eventually(async () => (await Status(1)).GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Up") == 3,
            "three members up");
    }

    [Fact]
    public async Task Acknowledged_writes_survive_poison_a_hung_node_the_writers_death_a_full_restart_size_and_majority_loss()
    {
        await StartCluster();
        await Eventually(async () => (await Put(2, Base)).Status == 200, "the first write");
        await Eventually(async () => await Line() == "echo ping", "the VIP routes");

        // 1. Poison: validates, but the compiler cannot use it: 400 with the field path, nothing journaled.
        var before = await Revision(1);
        var (poisonStatus, poison, poisonSeconds) = await Put(3, WriteContractTests.Poison("writes", "127.10.1.9"));
        Assert.Equal(400, poisonStatus);
        Assert.Contains(WriteContractTests.PoisonField, poison.ToString());
        Assert.Equal(before, await Revision(3));
        Figure("poison", 0, 0, poisonSeconds);

        // 1b. Deep (40 levels under an http route's headers, as the admin API accepts): answered at once through a node
        // that does not run the writer and through the writer's own node (not a hang, not a 500), and writes go on.
        var writerNode = await Writer();
        foreach (var (n, name) in new[] { (new[] { 1, 2, 3 }.First(n => n != writerNode), "deep-a"), (writerNode, "deep-b") })
        {
            var (deepStatus, deep, deepSeconds) = await Put(n, WriteContractTests.DeepVirtualService(40, name));
            Assert.True(deepStatus == 200 || deepStatus == 400 && deep.TryGetProperty("errors", out _), $"deep write through node {n}: {deepStatus} {deep}");
            Assert.True(deepSeconds < 30, $"deep write through node {n} took {deepSeconds:0.0}s");
            Assert.Equal(200, await Write(n, $"after-{name}"));
        }

        // 2. A non-writer SIGSTOPped: writes through the others go on, promptly.
        var writer = await Writer();
        var hung = new[] { 1, 2, 3 }.First(n => n != writer);
        var through = new[] { 1, 2, 3 }.First(n => n != writer && n != hung);
        Signal(hung, 19);
        var slowest = 0.0;
        var stopped = Stopwatch.StartNew();
        for (var i = 0; stopped.Elapsed < TimeSpan.FromSeconds(3); i++)
        {
            var clock = Stopwatch.StartNew();
            Assert.Equal(200, await Write(i % 2 == 0 ? writer : through, $"stop-{i}"));
            slowest = Math.Max(slowest, clock.Elapsed.TotalSeconds);
        }
        Signal(hung, 18);
        var resumed = Stopwatch.StartNew();
        var lostOnHung = await Lost(hung);
        Figure("sigstop", _acked.Count, lostOnHung, resumed.Elapsed.TotalSeconds);
        Assert.Equal(0, lostOnHung);
        Assert.True(slowest < 5, $"a write took {slowest:0.0}s while a node was stopped");

        // 3. The writer's node killed under continuous writes through the other two.
        writer = await Writer();
        var survivors = new[] { 1, 2, 3 }.Where(n => n != writer).ToArray();
        using var stop = new CancellationTokenSource();
        var killedAt = TimeSpan.Zero;
        TimeSpan? resumedAt = null;
        var clockAll = Stopwatch.StartNew();
        var writes = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                // Resumed: a write sent after the node was killed is acknowledged.
                var sentAfterKill = killedAt > TimeSpan.Zero;
                var status = await Write(survivors[i % 2], $"kill-{i}");
                if (status == 200 && sentAfterKill && resumedAt is null) resumedAt = clockAll.Elapsed;
                if (status != 200) await Task.Delay(100);
            }
        });
        // Counted in acknowledged writes, not seconds: a loaded machine's slow seconds may hold none.
        await Eventually(() => Task.FromResult(Acked("kill-") >= 5), "five writes acknowledged before the writer's node is killed");
        await KillAsync(writer);
        killedAt = clockAll.Elapsed;
        await Eventually(() => Task.FromResult(resumedAt is not null), "writes resume after the writer's node died");
        var resumedWith = Acked("kill-");
        await Eventually(() => Task.FromResult(Acked("kill-") >= resumedWith + 5), "five more writes acknowledged after they resumed");
        stop.Cancel();
        await writes;
        var recovery = (resumedAt!.Value - killedAt).TotalSeconds;
        var lostOnSurvivors = 0;
        foreach (var n in survivors) lostOnSurvivors += await Lost(n);
        Figure("writer-kill", _acked.Count, lostOnSurvivors, recovery);
        Assert.Equal(0, lostOnSurvivors);
        for (var i = 0; i < 3; i++) Assert.Equal("echo ping", await Line());
        output.WriteLine($"writes resumed {recovery:0.0}s after the writer's node was killed (goal: 15s)");

        // 4. Full restart: every node killed, all started again; every acknowledged write is there.
        Start(writer);
        await Eventually(async () => (await Status(survivors[0])).GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Up") == 3,
            "the killed node back in the cluster");
        foreach (var n in new[] { 1, 2, 3 }) await KillAsync(n);
        var restart = Stopwatch.StartNew();
        await StartCluster();
        await Eventually(async () => await Write(3, "after-restart") == 200, "a write after the full restart");
        var afterRestart = restart.Elapsed.TotalSeconds;
        var lostAfterRestart = 0;
        foreach (var n in new[] { 1, 2, 3 }) lostAfterRestart += await Lost(n);
        Figure("full-restart", _acked.Count, lostAfterRestart, afterRestart);
        Assert.Equal(0, lostAfterRestart);

        // 5. 10,000 Services (under the 4 MiB limit) through a node that does not run the writer, in force everywhere.
        var big = Services(10_000);
        Assert.InRange(Encoding.UTF8.GetByteCount(big), 1_000_000, 4 * 1024 * 1024);
        writer = await Writer();
        var nonWriter = new[] { 1, 2, 3 }.First(n => n != writer);
        var heard = _membership.Count;
        var sent = Stopwatch.StartNew();
        var (bigStatus, bigBody, bigSeconds) = await Put(nonWriter, big);
        Assert.True(bigStatus == 200, $"10,000 Services: {bigStatus} {bigBody}");
        var bigRevision = bigBody.GetProperty("revision").GetInt64();
        foreach (var n in new[] { 1, 2, 3 }) await Eventually(async () => await Revision(n) >= bigRevision, $"node {n} puts the 10,000 Services in force");
        var propagation = sent.Elapsed.TotalSeconds;
        var bigHeartbeats = Heartbeats(heard);
        Chaos.ChaosCluster.Report(output, "big-config", 1, 0, propagation,
            FormattableString.Invariant($"downed={bigHeartbeats.Downed.Count} unreachable={bigHeartbeats.Unreachable.Count} heartbeat-late-max={bigHeartbeats.LongestGap:0}ms {bigHeartbeats.Remoting}"));
        // Heartbeats go on while a large configuration crosses the cluster: a big write downs no node (before the
        // replicated copy was decoded lazily, the 4 MiB write at load ~25-45 had two of the three nodes downed).
        Assert.True(bigHeartbeats.Downed.Count == 0, "members downed during the 10,000-Service write:\n" + string.Join("\n", bigHeartbeats.Downed.Concat(bigHeartbeats.Unreachable)));
        output.WriteLine($"10,000 Services ({Encoding.UTF8.GetByteCount(big)} bytes): acknowledged after {bigSeconds:0.0}s, in force on all 3 nodes after {propagation:0.0}s");

        // 6. Just under 4 MiB that barely compresses, through a non-writer, in force everywhere (with the 10,000 Services).
        var noise = Incompressible(4 * 1024 * 1024);
        var noiseBytes = Encoding.UTF8.GetByteCount(noise);
        Assert.InRange(noiseBytes, 4 * 1024 * 1024 - 16 * 1024, 4 * 1024 * 1024);
        heard = _membership.Count;
        sent = Stopwatch.StartNew();
        var (noiseStatus, noiseBody, noiseSeconds) = await Put(nonWriter, noise);
        Assert.True(noiseStatus == 200, $"{noiseBytes} incompressible bytes: {noiseStatus} {noiseBody}");
        var noiseRevision = noiseBody.GetProperty("revision").GetInt64();
        foreach (var n in new[] { 1, 2, 3 }) await Eventually(async () => await Revision(n) >= noiseRevision, $"node {n} puts the incompressible configuration in force");
        var noisePropagation = sent.Elapsed.TotalSeconds;
        foreach (var n in new[] { 1, 2, 3 })
        {
            // In force means all of it: the last entry, annotation and all, is in the node's last-known-good copy.
            var last = noise[noise.LastIndexOf("apiVersion", StringComparison.Ordinal)..];
            var annotation = last[(last.IndexOf("noise: ", StringComparison.Ordinal) + 7)..last.IndexOf('}')];
            await Eventually(async () => (await File.ReadAllTextAsync(Path.Combine(_root, $"n{n}", "last-known-good.yaml"))).Contains(annotation, StringComparison.Ordinal),
                $"node {n} keeps the last noisy entry");
        }
        var noiseHeartbeats = Heartbeats(heard);
        Chaos.ChaosCluster.Report(output, "incompressible", 1, 0, noisePropagation,
            FormattableString.Invariant($"downed={noiseHeartbeats.Downed.Count} unreachable={noiseHeartbeats.Unreachable.Count} heartbeat-late-max={noiseHeartbeats.LongestGap:0}ms {noiseHeartbeats.Remoting}"));
        Assert.True(noiseHeartbeats.Downed.Count == 0, "members downed during the 4 MiB write:\n" + string.Join("\n", noiseHeartbeats.Downed.Concat(noiseHeartbeats.Unreachable)));
        output.WriteLine($"{noiseBytes} bytes of random base64: acknowledged after {noiseSeconds:0.0}s, in force on all 3 nodes after {noisePropagation:0.0}s");

        // 7. Majority loss: two nodes killed; the survivor routes on, and a write through it is answered promptly.
        var survivor = nonWriter;
        var incarnation = await Incarnation(survivor);
        foreach (var n in new[] { 1, 2, 3 }.Where(n => n != survivor)) await KillAsync(n);
        await Eventually(async () => (await Status(survivor)).GetProperty("unreachable").GetArrayLength() == 2 || !(await Status(survivor)).GetProperty("membership").GetProperty("inCluster").GetBoolean(),
            "the survivor sees the others gone");
        var (lossStatus, lossBody, lossSeconds) = await Put(survivor, Entry("minority"));
        output.WriteLine($"write through the survivor: {lossStatus} after {lossSeconds:0.0}s: {lossBody}");
        // Answered, not hung: a PUT the client gave up on (its 60 s timeout) is status 0 and fails here. How long the
        // answer took is a figure (majority-loss below), not an assert.
        Assert.True(lossStatus is 503 or 504, $"a write without a majority: {lossStatus} after {lossSeconds:0.0}s");
        for (var i = 0; i < 3; i++) Assert.Equal("echo ping", await Line());
        // Past the resolver's decision (a minority of one, it downs itself and starts a fresh membership): it still routes.
        await Eventually(async () => await Incarnation(survivor) > incarnation, "the survivor's resolver downs it");
        Assert.Equal("echo ping", await Line());
        Figure("majority-loss", 0, 0, lossSeconds);
    }
}
