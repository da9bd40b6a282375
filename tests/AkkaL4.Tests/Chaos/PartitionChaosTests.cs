using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using AkkaL4.Tests.ControlPlane;
using Xunit.Abstractions;

namespace AkkaL4.Tests.Chaos;

/// <summary>
/// One node cut off by a real network partition: three network namespaces made here (akkal4-p-1..3,
/// 10.20.0.N/24) joined by veth pairs to a bridge in a fourth (akkal4-p-hub); taking node 3's veth down
/// partitions it. Each namespace has its own upstream on its own loopback; all traffic stays inside the
/// namespaces, which are deleted at the end. Needs root and iproute2 (.ci/run installs it).
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", "Chaos")]
public sealed class PartitionChaosTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Hub = "akkal4-p-hub";
    /// <summary>The admin API listens on the namespace's address, not loopback: it needs a token of 16 characters at least.</summary>
    private const string Token = "partition-test-token-4711";
    private static string Ns(int n) => $"akkal4-p-{n}";
    private static string Ip(int n) => $"10.20.0.{n}";
    private static readonly IPEndPoint Gateway3 = IPEndPoint.Parse("127.20.4.3:19000");

    private readonly string _root = Path.Combine(Path.GetTempPath(), "akkal4-partition-" + Guid.NewGuid().ToString("N"));
    private readonly List<Process> _processes = [];
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _output = new();

    private static async Task Ip_(string args)
    {
        using var p = Process.Start(new ProcessStartInfo("ip", args) { RedirectStandardError = true, UseShellExecute = false })!;
        var error = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"ip {args}: {error}");
    }

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        await File.WriteAllTextAsync(Path.Combine(_root, "test.hocon"), ChaosCluster.TestHocon);
        await File.WriteAllTextAsync(Path.Combine(_root, "world.yaml"), ChaosCluster.Manifests);
        await DeleteNamespaces();
        await Ip_($"netns add {Hub}");
        await Ip_($"-n {Hub} link add br0 type bridge");
        await Ip_($"-n {Hub} link set br0 up");
        foreach (var n in new[] { 1, 2, 3 })
        {
            await Ip_($"netns add {Ns(n)}");
            await Ip_($"-n {Hub} link add h{n} type veth peer name e{n} netns {Ns(n)}");
            await Ip_($"-n {Hub} link set h{n} master br0");
            await Ip_($"-n {Hub} link set h{n} up");
            await Ip_($"-n {Ns(n)} addr add {Ip(n)}/24 dev e{n}");
            await Ip_($"-n {Ns(n)} link set e{n} up");
            await Ip_($"-n {Ns(n)} link set lo up");
        }
    }

    private static async Task DeleteNamespaces()
    {
        foreach (var ns in new[] { Ns(1), Ns(2), Ns(3), Hub })
        {
            using var p = Process.Start(new ProcessStartInfo("ip", $"netns del {ns}") { RedirectStandardError = true, UseShellExecute = false })!;
            await p.WaitForExitAsync();
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var p in _processes)
        {
            try { if (!p.HasExited) p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        }
        foreach (var p in _processes) { await p.WaitForExitAsync(); p.Dispose(); }
        await DeleteNamespaces();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    private Process StartIn(int n, params string[] args)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "netns", "exec", Ns(n), Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet",
                     Path.Combine(AppContext.BaseDirectory, "akkal4.dll") }.Concat(args))
            start.ArgumentList.Add(arg);
        start.Environment.Remove("AKKAL4_ADMIN_TOKEN");
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is { } line) _output.Enqueue($"[n{n}] {line}"); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } line) _output.Enqueue($"[n{n} err] {line}"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes.Add(process);
        return process;
    }

    private void StartNode(int n) => StartIn(n, "run", "--name", $"part-{n}", "--labels", $"node=n{n}",
        // Remoting off loopback without TLS: these namespaces are a private network the test made (the TLS path is
        // tested in Security/RemotingSecurityTests), so say so explicitly.
        "--remoting", $"{Ip(n)}:4053", "--insecure-remoting", "--admin", $"{Ip(n)}:15000", "--data", Path.Combine(_root, $"n{n}"),
        "--config", Path.Combine(_root, "test.hocon"), "--admin-token", Token, "--seed", $"akka.tcp://akkal4@{Ip(1)}:4053", "--seed", $"akka.tcp://akkal4@{Ip(2)}:4053");

    [DllImport("libc", SetLastError = true)]
    private static extern int setns(int fd, int nstype);

    /// <summary>A socket made inside namespace <paramref name="n"/> (a thread of its own enters it, makes the socket, and ends).</summary>
    private static Socket SocketIn(int n)
    {
        Socket? socket = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var handle = File.OpenHandle($"/var/run/netns/{Ns(n)}");
                if (setns((int)handle.DangerousGetHandle(), 0x40000000) != 0) throw new IOException($"setns {Ns(n)}: errno {Marshal.GetLastPInvokeError()}");
                socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            }
            catch (Exception e) { failure = e; }
        });
        thread.Start();
        thread.Join();
        return socket ?? throw new IOException("no socket in " + Ns(n), failure);
    }

    private static HttpClient HttpIn(int n) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, cancel) =>
        {
            var socket = SocketIn(n);
            try { await socket.ConnectAsync(context.DnsEndPoint, cancel); }
            catch { socket.Dispose(); throw; }
            return new NetworkStream(socket, ownsSocket: true);
        },
    })
    {
        Timeout = TimeSpan.FromSeconds(15),
        DefaultRequestHeaders = { Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token) },
    };

    private static async Task<JsonElement?> Status(HttpClient http, int n)
    {
        try
        {
            using var doc = JsonDocument.Parse(await http.GetStringAsync($"http://{Ip(n)}:15000/v1/status"));
            return doc.RootElement.Clone();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            return null;
        }
    }

    private static int Up(JsonElement? status) => status is { } s
        ? s.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Up") : 0;

    /// <summary>One line through node 3's gateway, from a client inside node 3's namespace.</summary>
    private static async Task<string> LineVia3(string line)
    {
        using var socket = SocketIn(3);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await socket.ConnectAsync(Gateway3, cts.Token);
            await socket.SendAsync(Encoding.UTF8.GetBytes(line + "\n"), SocketFlags.None, cts.Token);
            socket.Shutdown(SocketShutdown.Send);
            var received = new MemoryStream();
            var buffer = new byte[512];
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0) received.Write(buffer, 0, read);
            return Encoding.UTF8.GetString(received.ToArray()).TrimEnd('\n');
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return $"({e.Message})";
        }
    }

    private async Task Eventually(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + ChaosCluster.Patience;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting: {what}\n--- output\n{string.Join("\n", _output.TakeLast(150))}");
            await Task.Delay(250);
        }
    }

    [Fact]
    public async Task A_partitioned_node_keeps_routing_with_its_last_configuration_and_rejoins_when_the_partition_heals()
    {
        using var http1 = HttpIn(1);
        using var http3 = HttpIn(3);
        foreach (var n in new[] { 1, 2, 3 }) StartIn(n, "echo", "--listen", "127.20.2.1:9000", "--prefix", ChaosCluster.Prefix);
        StartNode(1);
        await Eventually(async () => await Status(http1, 1) is { } s && s.GetProperty("membership").GetProperty("inCluster").GetBoolean(), "node 1 founds the cluster");
        StartNode(2);
        StartNode(3);
        await Eventually(async () => Up(await Status(http1, 1)) == 3, "three members up");
        await Eventually(async () =>
        {
            try
            {
                using var put = await http3.PutAsync($"http://{Ip(3)}:15000/v1/config", new StringContent(ChaosCluster.Manifests, Encoding.UTF8, "application/yaml"));
                return put.IsSuccessStatusCode;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return false; }
        }, "the first write");
        await Eventually(async () => await LineVia3("ping") == $"{ChaosCluster.Prefix} ping", "node 3's gateway routes");

        await Ip_($"-n {Hub} link set h3 down");
        // Node 3 is a minority of one: the others down it, it downs itself; it keeps routing all along.
        int ok = 0, failed = 0;
        async Task Probe()
        {
            if (await LineVia3("during") == $"{ChaosCluster.Prefix} during") ok++;
            else failed++;
        }
        await Eventually(async () => { await Probe(); return Up(await Status(http1, 1)) == 2; }, "nodes 1 and 2 go on without node 3");
        await Eventually(async () =>
        {
            await Probe();
            return await Status(http3, 3) is { } s && s.GetProperty("membership").GetProperty("state").GetString() == "rejoining";
        }, "node 3 is out of the cluster, rejoining");
        var health = await http3.GetStringAsync($"http://{Ip(3)}:15000/healthz");
        Assert.Contains("not in a cluster since", health);
        // Never alone: it founds no cluster of its own (no second writer) while cut off.
        for (var i = 0; i < 10; i++)
        {
            await Probe();
            var cutOff = await Status(http3, 3);
            Assert.False(cutOff!.Value.GetProperty("membership").GetProperty("inCluster").GetBoolean(), "the partitioned node formed a cluster alone");
            await Task.Delay(300);
        }

        var healed = Stopwatch.StartNew();
        await Ip_($"-n {Hub} link set h3 up");
        await Eventually(async () =>
        {
            await Probe();
            return await Status(http3, 3) is { } s && s.GetProperty("membership").GetProperty("inCluster").GetBoolean() && Up(await Status(http1, 1)) == 3;
        }, "node 3 rejoins once the partition heals");
        var recovery = healed.Elapsed;

        ChaosCluster.Report(output, "partition", acked: 1, lost: 0, recovery.TotalSeconds, $"connections ok={ok} failed={failed} corrupted=0");
        Assert.Equal(0, failed);
        Assert.True(ok > 5);
    }
}
