using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AkkaL4.Node.Echo;
using AkkaL4.Tests.Support;
using Xunit.Abstractions;

namespace AkkaL4.Tests.Compose;

/// <summary>
/// Runs only when <c>AKKAL4_COMPOSE_TEST=1</c> (set by .ci/run's compose step): it needs a Docker engine at
/// DOCKER_HOST (deploy/dockerd.sh starts one), docker-compose, debootstrap and root, and takes minutes.
/// With the variable set and no engine, the test fails instead of skipping.
/// </summary>
public sealed class ComposeFact : FactAttribute
{
    public const string Variable = "AKKAL4_COMPOSE_TEST";

    public ComposeFact()
    {
        if (Environment.GetEnvironmentVariable(Variable) != "1")
            Skip = $"needs a Docker engine: set {Variable}=1 with DOCKER_HOST from deploy/dockerd.sh (as root, for debootstrap); .ci/run does";
    }
}

/// <summary>
/// docker-compose.yml for real: images built without a registry, <c>up --scale router=3</c>, the walkthrough's
/// configuration through a seed's admin API, connections through the replicas' shared listeners, then
/// <c>--scale router=5</c>, <c>docker kill</c> of one replica and <c>--scale router=1</c>, checking after each
/// step that no acknowledged write is lost, every member routes by the latest revision and every connection
/// is answered as the walkthrough says; and that the cluster is secured as it starts: outsiders without the admin
/// token or the remoting certificate are refused. Everything lives in 127.40.0.0/16 (the compose file's AKKAL4_HOST
/// and the walkthrough's addresses moved from 127.0.x.y to 127.40.x.y).
/// </summary>
[Trait("Category", "Docker")]
public sealed class ComposeScaleTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Project = "akkal4test";
    private const string Host = "127.40.0.1";
    private static readonly Uri[] Seeds = [new($"http://{Host}:15000"), new($"http://{Host}:15001")];
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(150);

    // The walkthrough's world (examples/seed/world.yaml) moved into this test's block.
    private static readonly IPAddress TelnetClient = IPAddress.Parse("127.40.30.1"), TelnetClient2 = IPAddress.Parse("127.40.30.2");
    private static readonly IPEndPoint EchoServer = IPEndPoint.Parse("127.40.20.1:19000"), Gateway1 = IPEndPoint.Parse("127.40.40.1:19000");

    private readonly ITestOutputHelper _output = output;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly List<EchoServer> _upstreams = [];
    private readonly List<(int Probe, long Revision)> _acked = [];

    public Task InitializeAsync()
    {
        if (Environment.GetEnvironmentVariable(ComposeFact.Variable) == "1")
        {
            _upstreams.Add(new EchoServer(IPEndPoint.Parse("127.40.10.1:9000"), "hello"));
            _upstreams.Add(new EchoServer(IPEndPoint.Parse("127.40.10.2:9000"), "hello-gray"));
            _upstreams.Add(new EchoServer(IPEndPoint.Parse("127.40.10.3:9000"), "hello-2"));
        }
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (Environment.GetEnvironmentVariable(ComposeFact.Variable) == "1")
            await RunAsync("docker-compose", [.. ComposeArgs, "down", "-v", "--remove-orphans"], TimeSpan.FromMinutes(3), check: false);
        foreach (var upstream in _upstreams) await upstream.DisposeAsync();
        _http.Dispose();
        _envDirectory.Delete(recursive: true);
    }

    [ComposeFact]
    public async Task Scale_up_kill_and_scale_down_lose_no_write_and_route_every_connection()
    {
        Assert.True((await RunAsync("docker", ["info"], TimeSpan.FromSeconds(30), check: false)).Exit == 0,
            "no Docker engine at DOCKER_HOST: eval \"$(deploy/dockerd.sh start)\"");
        // The compose file has no default secrets: the helper writes random ones, as an operator runs it once.
        await RunAsync(Repo.Path("deploy", "compose-env.sh"), [EnvFile], TimeSpan.FromSeconds(30));
        var token = File.ReadAllLines(EnvFile).Single(l => l.StartsWith("AKKAL4_ADMIN_TOKEN=", StringComparison.Ordinal))["AKKAL4_ADMIN_TOKEN=".Length..];
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        await RunAsync("docker-compose", [.. ComposeArgs, "down", "-v", "--remove-orphans"], TimeSpan.FromMinutes(3), check: false);

        var clock = Stopwatch.StartNew();
        await RunAsync(Repo.Path("deploy", "offline-images.sh"), [], TimeSpan.FromMinutes(15));
        var baseImages = clock.Elapsed;
        clock.Restart();
        await RunAsync("docker-compose", [.. ComposeArgs, "build"], TimeSpan.FromMinutes(15));
        var nodeImage = clock.Elapsed;

        // Three replicas; the walkthrough's world, case 3 (source labels) and case 4 (gateways) through seed-1.
        await RunAsync("docker-compose", [.. ComposeArgs, "up", "-d", "--scale", "router=3"], TimeSpan.FromMinutes(5));
        var routers = await RoutersAsync(3);
        await WaitForMembersAsync(2 + 3);
        var revision = await PutConfigAsync(Seeds[0], Walkthrough("world.yaml", "03-source-labels.yaml", "04-gateways.yaml"));
        await WaitForRevisionEverywhereAsync(revision);
        await WaitForRoutersReadyAsync(routers);
        Assert.Empty(await ConnectAsync(60));
        await WaitForAccessLinesAsync(routers);
        await WriteProbeAsync(1);
        await AssertOutsidersRefusedAsync(2 + 3);

        // Five: the new replicas take the configuration in force and route.
        clock.Restart();
        await RunAsync("docker-compose", [.. ComposeArgs, "up", "-d", "--no-recreate", "--scale", "router=5"], TimeSpan.FromMinutes(5));
        var five = await RoutersAsync(5);
        await WaitForMembersAsync(2 + 5);
        await WaitForRevisionEverywhereAsync(_acked[^1].Revision);
        var added = five.Except(routers).ToList();
        Assert.Equal(2, added.Count);
        await WaitForRoutersReadyAsync(added);
        var joinAndRoute = clock.Elapsed;
        await WriteProbeAsync(2);
        Assert.Empty(await ConnectAsync(100));
        await WaitForAccessLinesAsync(five);

        // One replica killed outright: the cluster downs it and the others route on.
        (int Sent, int Failed) duringKill, duringScaleDown;
        using (var traffic = new BackgroundTraffic(this))
        {
            await RunAsync("docker", ["kill", five[0]], TimeSpan.FromMinutes(1));
            await WriteProbeAsync(3, Seeds[1]);
            await WaitForSettledAsync();
            duringKill = await traffic.StopAsync();
        }
        // The killed replica stays a stopped container, and compose's next `up` would start it again first (it keeps
        // the lowest-numbered containers): remove it, as an operator would, so the scale-down stops running replicas.
        await RunAsync("docker-compose", [.. ComposeArgs, "rm", "-f", "router"], TimeSpan.FromMinutes(1));
        // Back to one replica: compose stops the others with SIGTERM, and they drain and leave.
        using (var traffic = new BackgroundTraffic(this))
        {
            await RunAsync("docker-compose", [.. ComposeArgs, "up", "-d", "--no-recreate", "--scale", "router=1"], TimeSpan.FromMinutes(5));
            await WaitForMembersAsync(2 + 1);
            duringScaleDown = await traffic.StopAsync();
        }
        var one = await RoutersAsync(1);
        Assert.Contains(one[0], five.Skip(1));
        await WriteProbeAsync(4);
        await WaitForSettledAsync();
        await WaitForRoutersReadyAsync(one);
        Assert.Empty(await ConnectAsync(30));

        // Every acknowledged write is in the stored configuration, and every member routes by the latest revision.
        var stored = await GetAsync(Seeds[1], "/v1/config?kind=WorkloadEntry&namespace=default", json: true);
        foreach (var (probe, _) in _acked) Assert.Contains($"\"probe-{probe}\"", stored);
        var latest = _acked.Max(a => a.Revision);
        var status = JsonDocument.Parse(await GetAsync(Seeds[0], "/v1/status"));
        foreach (var member in status.RootElement.GetProperty("members").EnumerateArray())
            Assert.True(member.GetProperty("revision").GetInt64() >= latest, $"{member} is behind revision {latest}");

        _output.WriteLine($"compose figures: base images {baseImages.TotalSeconds:0} s (offline-images.sh, 0 when cached), node image build {nodeImage.TotalSeconds:0} s, "
                         + $"2 new replicas joined and ready to route in {joinAndRoute.TotalSeconds:0.0} s, "
                         + $"connections failed while one replica was killed and the cluster settled: {duringKill.Failed} of {duringKill.Sent}, "
                         + $"during scale-down 5 → 1: {duringScaleDown.Failed} of {duringScaleDown.Sent}");
    }

    /// <summary>
    /// What any local user of the host could try, since every node listens on the host's network: the admin API
    /// without the token is 401 (the status and a write), and nodes of their own that join seed-1 are refused: one over
    /// plain remoting (akka.tcp, no certificate), one over akka.ssl.tcp with a member certificate of another cluster's CA.
    /// </summary>
    private async Task AssertOutsidersRefusedAsync(int members)
    {
        using (var anonymous = new HttpClient { Timeout = TimeSpan.FromSeconds(30) })
        {
            using var status = await anonymous.GetAsync(new Uri(Seeds[0], "/v1/status"));
            Assert.Equal(HttpStatusCode.Unauthorized, status.StatusCode);
            using var write = await anonymous.PutAsync(new Uri(Seeds[1], "/v1/config"), new StringContent("kind: Service", Encoding.UTF8, "application/yaml"));
            Assert.Equal(HttpStatusCode.Unauthorized, write.StatusCode);
        }

        await OutsiderRefusedAsync("127.40.50.1", $"akka.tcp://akkal4@{Host}:4053", new Dictionary<string, string>(), members);
        // A node with a certificate of its own: the member EKU and everything, made by the same helper as an operator
        // would, but for another cluster (another CA). Its TLS handshake with seed-1 fails and it never becomes a member.
        var foreign = Path.Combine(_envDirectory.FullName, "foreign.env");
        await RunAsync(Repo.Path("deploy", "compose-env.sh"), [foreign], TimeSpan.FromSeconds(30));
        string Setting(string name) => File.ReadAllLines(foreign).Single(l => l.StartsWith(name + "=", StringComparison.Ordinal))[(name.Length + 1)..];
        var certificate = Setting("AKKAL4_TLS_CERT_FILE");
        await OutsiderRefusedAsync("127.40.50.2", $"akka.ssl.tcp://akkal4@{Host}:4053", new Dictionary<string, string>
        {
            ["AKKAL4_TLS_CERT"] = Path.IsPathRooted(certificate) ? certificate : Path.Combine(_envDirectory.FullName, certificate),
            ["AKKAL4_TLS_CERT_PASSWORD"] = Setting("AKKAL4_TLS_CERT_PASSWORD"),
        }, members);
    }

    /// <summary>
    /// An outsider node on <paramref name="address"/> (the test's build of akkal4, its own process) joins through
    /// <paramref name="seed"/>: once its association has failed, the cluster still has <paramref name="members"/> members
    /// and not it.
    /// </summary>
    private async Task OutsiderRefusedAsync(string address, string seed, Dictionary<string, string> environment, int members)
    {
        var data = Directory.CreateTempSubdirectory("akkal4-outsider-");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "akkal4.dll"), "run", "--name", "outsider", "--mesh", "false",
                     "--remoting", $"{address}:24053", "--admin", $"{address}:25000", "--seed", seed, "--data", data.FullName })
            start.ArgumentList.Add(arg);
        start.Environment.Remove("AKKAL4_ADMIN_TOKEN");
        foreach (var (name, value) in environment) start.Environment[name] = value;
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var outsider = Process.Start(start) ?? throw new InvalidOperationException("could not start the outsider node");
        outsider.OutputDataReceived += (_, line) => { if (line.Data is { } l) log.Enqueue(l); };
        outsider.ErrorDataReceived += (_, line) => { if (line.Data is { } l) log.Enqueue(l); };
        outsider.BeginOutputReadLine();
        outsider.BeginErrorReadLine();
        try
        {
            await WaitAsync($"the association of the outsider on {address} with seed-1 refused", () =>
                Task.FromResult(log.Any(l => l.Contains("Association failed with " + seed, StringComparison.Ordinal))
                    ? null : $"{log.Count} lines logged, the last: {log.LastOrDefault()}"));
            var status = JsonDocument.Parse(await GetAsync(Seeds[0], "/v1/status")).RootElement;
            Assert.Equal(members, status.GetProperty("members").GetArrayLength());
            Assert.DoesNotContain(address, status.GetProperty("members").ToString());
            if (outsider.HasExited) Assert.Fail($"the outsider node exited ({outsider.ExitCode}) instead of trying: {string.Join('\n', log)}");
        }
        finally
        {
            outsider.Kill(entireProcessTree: true);
            await outsider.WaitForExitAsync();
            data.Delete(recursive: true);
        }
    }

    /// <summary>
    /// The run's own directory for the env file that deploy/compose-env.sh writes (not the checkout's .env) and its secrets:
    /// made per run and removed after it, so a file left by another run (whose secrets the helper would keep) plays no part.
    /// </summary>
    private readonly DirectoryInfo _envDirectory = Directory.CreateTempSubdirectory($"{Project}-compose-");

    private string EnvFile => Path.Combine(_envDirectory.FullName, "compose.env");

    private string[] ComposeArgs =>
        ["--env-file", EnvFile, "-p", Project, "-f", Repo.Path("docker-compose.yml"), "-f", Repo.Path("deploy", "docker-compose.offline.yml")];

    private static readonly Dictionary<string, string> ComposeEnvironment = new()
    {
        ["AKKAL4_HOST"] = Host,
        ["AKKAL4_POSTGRES_PORT"] = "25432",
        ["AKKAL4_ROUTER_LABELS"] = "istio=ingressgateway-1",
    };

    private static string Walkthrough(params string[] files) =>
        string.Join("\n---\n", files.Select(f => File.ReadAllText(Repo.Path("examples", "seed", f)).Replace("127.0.", "127.40.")));

    /// <summary>The three kinds of connection the applied cases decide, each with the walkthrough's answers
    /// (echo-server selects both its pods, prod and gray, so either may answer for it).</summary>
    private static readonly (IPAddress Source, IPEndPoint Destination, string[] Answers)[] Cases =
    [
        (TelnetClient, EchoServer, ["hello-2 test"]),                     // case 3: sourceLabels app=telnet-client → echo-server-2
        (TelnetClient2, EchoServer, ["hello test", "hello-gray test"]),   // case 3: no rule matched → echo-server itself
        (TelnetClient, Gateway1, ["hello test", "hello-gray test"]),      // case 4: via ingressgateway-1 → echo-server
    ];

    /// <summary>Sends <paramref name="count"/> connections (cases in turn from <paramref name="first"/>), a few at a time; returns the wrong answers.</summary>
    private async Task<List<string>> ConnectAsync(int count, int first = 0)
    {
        var wrong = new List<string>();
        for (var i = first; i < first + count; i += 5)
        {
            var batch = Enumerable.Range(i, Math.Min(5, first + count - i)).Select(async n =>
            {
                var (source, destination, answers) = Cases[n % Cases.Length];
                var got = await LineClient.SendAsync(source, destination, "test", TimeSpan.FromSeconds(10));
                return answers.Contains(got) ? null : $"{source} → {destination}: '{got}', expected '{string.Join("' or '", answers)}'";
            });
            wrong.AddRange((await Task.WhenAll(batch)).OfType<string>());
        }
        return wrong;
    }

    /// <summary>Connections of every case, one after another (about 50 a second), until stopped; counts those answered wrongly.</summary>
    private sealed class BackgroundTraffic : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task<(int Sent, int Failed)> _loop;

        public BackgroundTraffic(ComposeScaleTests test) => _loop = Task.Run(async () =>
        {
            var (sent, failed) = (0, 0);
            while (!_stop.IsCancellationRequested)
            {
                if ((await test.ConnectAsync(1, sent++)).FirstOrDefault() is { } wrong)
                {
                    failed++;
                    if (failed <= 20) test._output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} failed: {wrong}");
                }
                await Task.Delay(20);
            }
            return (sent, failed);
        });

        public async Task<(int Sent, int Failed)> StopAsync()
        {
            await _stop.CancelAsync();
            return await _loop;
        }

        public void Dispose() => _stop.Cancel();
    }

    private async Task<long> PutConfigAsync(Uri seed, string yaml)
    {
        for (var deadline = DateTime.UtcNow + Patience; ; await Task.Delay(1000))
        {
            using var content = new StringContent(yaml, Encoding.UTF8);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/yaml");
            try
            {
                using var response = await _http.PutAsync(new Uri(seed, "/v1/config?wait=true"), content);
                var body = await response.Content.ReadAsStringAsync();
                // 503: the config writer is still starting or moving; nothing was applied, so asking again is safe.
                if (response.StatusCode == HttpStatusCode.ServiceUnavailable && DateTime.UtcNow < deadline) continue;
                Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Accepted, $"PUT /v1/config on {seed}: {(int)response.StatusCode} {body}");
                return JsonDocument.Parse(body).RootElement.GetProperty("revision").GetInt64();
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                // The seed's admin API is not up yet.
            }
        }
    }

    /// <summary>An acknowledged write: a WorkloadEntry no route uses, remembered with the revision that acknowledged it.</summary>
    private async Task WriteProbeAsync(int probe, Uri? seed = null)
    {
        var yaml = $"""
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata:
              name: probe-{probe}
              namespace: default
            spec:
              address: 127.40.99.{probe}
              labels:
                app: probe
            """;
        _acked.Add((probe, await PutConfigAsync(seed ?? Seeds[0], yaml)));
    }

    private async Task<string> GetAsync(Uri server, string path, bool json = false)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(server, path));
        if (json) request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        using var response = await _http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {path} on {server}: {(int)response.StatusCode} {body}");
        return body;
    }

    /// <summary>Polls <paramref name="condition"/> (null = done, else what is still missing) until it holds.</summary>
    private async Task WaitAsync(string what, Func<Task<string?>> condition)
    {
        string? missing = "not checked";
        for (var deadline = DateTime.UtcNow + Patience; DateTime.UtcNow < deadline; await Task.Delay(500))
        {
            try { missing = await condition(); }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException) { missing = e.Message; }
            if (missing is null) return;
        }
        Assert.Fail($"{what}: still not so after {Patience.TotalSeconds:0}s: {missing}");
    }

    private Task WaitForMembersAsync(int count) => WaitAsync($"{count} members Up, none unreachable", async () =>
    {
        var status = JsonDocument.Parse(await GetAsync(Seeds[0], "/v1/status")).RootElement;
        var up = status.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Up");
        var unreachable = status.GetProperty("unreachable").GetArrayLength();
        return up == count && unreachable == 0 && status.GetProperty("members").GetArrayLength() == count
            ? null : $"{up} Up, {unreachable} unreachable: {status.GetProperty("members")}";
    });

    private Task WaitForRevisionEverywhereAsync(long revision) => WaitAsync($"every member at revision {revision}", async () =>
    {
        var members = JsonDocument.Parse(await GetAsync(Seeds[0], "/v1/status")).RootElement.GetProperty("members").EnumerateArray().ToList();
        var behind = members.Where(m => m.GetProperty("revision").ValueKind != JsonValueKind.Number || m.GetProperty("revision").GetInt64() < revision).ToList();
        return behind.Count == 0 ? null : string.Join(", ", behind);
    });

    /// <summary>After a kill: no member unreachable any more, and every one at the latest acknowledged revision.</summary>
    private async Task WaitForSettledAsync()
    {
        await WaitAsync("no member unreachable", async () =>
        {
            var status = JsonDocument.Parse(await GetAsync(Seeds[0], "/v1/status")).RootElement;
            var down = status.GetProperty("members").EnumerateArray().Where(m => m.GetProperty("status").GetString() != "Up").ToList();
            return status.GetProperty("unreachable").GetArrayLength() == 0 && down.Count == 0 ? null : status.GetProperty("members").ToString();
        });
        await WaitForRevisionEverywhereAsync(_acked.Max(a => a.Revision));
    }

    /// <summary>The router containers, oldest first, once there are <paramref name="count"/> running.</summary>
    private async Task<List<string>> RoutersAsync(int count)
    {
        List<string> ids = [];
        await WaitAsync($"{count} router containers running", async () =>
        {
            var ps = await RunAsync("docker", ["ps", "-q", "--no-trunc", "--filter", $"label=com.docker.compose.project={Project}",
                "--filter", "label=com.docker.compose.service=router"], TimeSpan.FromSeconds(30));
            ids = ps.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Reverse().ToList();
            return ids.Count == count ? null : $"{ids.Count} running";
        });
        return ids;
    }

    /// <summary>Each router's /readyz (its admin API's port is chosen at start: the container's DATA/admin.url says which).</summary>
    private Task WaitForRoutersReadyAsync(IEnumerable<string> routers) => WaitAsync("routers ready", async () =>
    {
        foreach (var id in routers)
        {
            var url = await RunAsync("docker", ["exec", id, "cat", "/var/lib/akkal4/admin.url"], TimeSpan.FromSeconds(30), check: false);
            if (url.Exit != 0) return $"{id[..12]}: no admin.url yet";
            using var response = await _http.GetAsync(new Uri(new Uri(url.Stdout.Trim()), "/readyz"));
            if (!response.IsSuccessStatusCode) return $"{id[..12]}: {await response.Content.ReadAsStringAsync()}";
        }
        return null;
    });

    /// <summary>Every given router has written access-log lines: connections through the shared listeners reached it.</summary>
    private Task WaitForAccessLinesAsync(IReadOnlyList<string> routers) => WaitAsync("every replica routed connections", async () =>
    {
        var idle = new List<string>();
        foreach (var id in routers)
        {
            var logs = await RunAsync("docker", ["logs", id], TimeSpan.FromSeconds(30));
            if (!logs.Stdout.Split('\n').Any(l => l.Contains("\"- - -\"", StringComparison.Ordinal))) idle.Add(id[..12]); // Envoy's access-log line
        }
        if (idle.Count == 0)
        {
            _output.WriteLine($"{routers.Count} distinct replicas routed connections");
            return null;
        }
        // A replica the kernel has not picked yet: more connections (they must be answered right too).
        Assert.Empty(await ConnectAsync(15));
        return "no access lines from " + string.Join(", ", idle);
    });

    private sealed record Ran(int Exit, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {Exit}\n{Stdout}{Stderr}";
    }

    /// <summary>Runs a command (in the repository, with the compose variables); <paramref name="check"/>: fail on a non-zero exit.</summary>
    private async Task<Ran> RunAsync(string file, string[] args, TimeSpan timeout, bool check = true)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = Repo.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        foreach (var (key, value) in ComposeEnvironment) start.Environment[key] = value;
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + file);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', args)} did not finish within {timeout.TotalSeconds:0}s");
        }
        var ran = new Ran(process.ExitCode, await stdout, await stderr);
        if (check && ran.Exit != 0) Assert.Fail($"{file} {string.Join(' ', args)}: {ran}");
        return ran;
    }
}
