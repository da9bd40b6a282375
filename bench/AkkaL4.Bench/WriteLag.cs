using System.Diagnostics;
using Akka.Actor;
using AkkaL4.Actors;
using AkkaL4.Actors.Config;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Commands;

namespace AkkaL4.Bench;

/// <summary>
/// <c>lag [--before] [--burners N] [rounds]</c>: how long work waits for a thread while a node takes WriteChaosTests' big writes (the
/// 10,000 Services, then just under 4 MiB of barely compressible text), in one single-node cluster on 127.210.0.1. A
/// sampler thread, every 10 ms, queues one item on the .NET thread pool and sends one message to an actor on
/// <c>akka.actor.internal-dispatcher</c> of the cluster's actor system (where Akka's heartbeat sender and receiver run), and
/// notes how late each ran and how late its own sleep woke it (a dedicated thread's lateness: the CPU's share, not a wait
/// for a thread). Each write goes as the admin API takes it: checked at the edge, asked of the writer, put in force by the
/// route cache. <c>--before</c> runs the control plane as it ran before rel17: the edge's check on a pool thread and
/// <c>akkal4.control-plane-dispatcher</c> and <c>akkal4.config-writer-dispatcher</c> redefined as the pool. <c>--burners N</c>: N busy shell loops beside it (a loaded
/// host). Run it under the tests' exclusive lock; compare the two in one run.
/// </summary>
internal static class WriteLag
{
    private const string Pool = """
        akkal4.control-plane-dispatcher { type = Dispatcher, executor = default-executor }
        akkal4.config-writer-dispatcher { type = Dispatcher, executor = default-executor }
        """;

    public static async Task<int> Run(string[] args)
    {
        var before = args.Contains("--before");
        var burners = args.Contains("--burners") ? int.Parse(args[Array.IndexOf(args, "--burners") + 1]) : 0;
        var rounds = args.Where((a, i) => !a.StartsWith("--", StringComparison.Ordinal) && (i == 0 || args[i - 1] != "--burners"))
            .Select(int.Parse).DefaultIfEmpty(2).First();
        // A loaded host, as WriteChaosTests' runs under two CPU burners: busy shell loops, each a process of its own, stopped by pid.
        var busy = Enumerable.Range(0, burners).Select(_ => Process.Start("sh", ["-c", "while :; do :; done"])).ToList();
        if (busy.Count > 0) Console.WriteLine($"burners: pid {string.Join(", ", busy.Select(b => b.Id))}");
        // Stopped by SIGTERM (a timeout around the run) too, not left spinning.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => busy.ForEach(b => { if (!b.HasExited) b.Kill(); });
        try
        {
            return await Run(before, rounds, burners);
        }
        finally
        {
            foreach (var b in busy)
            {
                b.Kill();
                b.WaitForExit();
            }
        }
    }

    private static async Task<int> Run(bool before, int rounds, int burners)
    {
        var dir = Path.Combine(Path.GetTempPath(), "akkal4-lag-" + Environment.ProcessId);
        var node = RouterNode.Start(new RouterNodeOptions
        {
            Name = "lag",
            DataDirectory = dir,
            Overrides = "akka.loglevel = WARNING\nakka.remote.dot-netty.tcp.hostname = 127.210.0.1\n" + (before ? Pool : ""),
        });
        try
        {
            await WriterAnswers(node);
            using var sampler = new Sampler(node.ClusterSystem);
            Console.WriteLine($"lag {(before ? "before (control plane on the pool)" : "after (control plane on its own thread)")}: "
                              + $"{Environment.ProcessorCount} cores, {burners} CPU burner(s), pool threads min {MinThreads()}; delay in ms, max / p99 / samples over 100 ms");
            await Task.Delay(2000);
            sampler.Report("idle 2 s", 2.0);
            for (var round = 1; round <= rounds; round++)
            {
                await Write(node, sampler, $"round {round}: 10,000 Services", BigWrite.Services(10_000, port: 1000 + round));
                await Write(node, sampler, $"round {round}: 4 MiB noise", BigWrite.Incompressible(4 * 1024 * 1024, seed: round));
            }
            return 0;

            async Task Write(RouterNode n, Sampler s, string what, string yaml)
            {
                s.Reset();
                var clock = Stopwatch.StartNew();
                var report = before ? await Task.Run(() => ConfigCheck.Check(yaml, "request")) : await ControlPlaneWork.CheckAsync(yaml, "request");
                var reply = await n.AskWriterAsync(new ApplyConfig(report.Resources, false), TimeSpan.FromSeconds(120));
                if (reply is not ConfigAccepted accepted) throw new InvalidOperationException($"{what}: {reply}");
                while (n.Routes.Current.Revision < accepted.Revision) await Task.Delay(10);
                s.Report(what, clock.Elapsed.TotalSeconds);
            }
        }
        finally
        {
            await node.DisposeAsync();
            Directory.Delete(dir, recursive: true);
        }
    }

    private static int MinThreads()
    {
        ThreadPool.GetMinThreads(out var workers, out _);
        return workers;
    }

    private static async Task WriterAnswers(RouterNode node)
    {
        for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60); ; await Task.Delay(200))
        {
            try
            {
                await node.Writer.Ask<object>(new AkkaL4.Messages.Queries.ReadConfig("Gateway", "none"), TimeSpan.FromSeconds(2));
                return;
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
            }
        }
    }

    /// <summary>The three lateness series, each since the last <see cref="Reset"/>.</summary>
    private sealed class Sampler : IDisposable
    {
        private readonly object _gate = new();
        private readonly List<double>[] _series = [[], [], []];
        private static readonly string[] Names = ["pool", "internal-dispatcher", "dedicated thread"];
        private readonly IActorRef _probe;
        private readonly Thread _thread;
        private volatile bool _stop;

        public Sampler(ActorSystem cluster)
        {
            _probe = cluster.ActorOf(Props.Create(() => new Probe(this)).WithDispatcher("akka.actor.internal-dispatcher"), "lag-probe");
            _thread = new Thread(Loop) { IsBackground = true, Name = "lag-sampler" };
            _thread.Start();
        }

        private sealed class Probe : ReceiveActor
        {
            public Probe(Sampler sampler) => Receive<long>(sent => sampler.Note(1, sent));
        }

        private void Note(int series, long since)
        {
            var ms = Stopwatch.GetElapsedTime(since).TotalMilliseconds;
            lock (_gate) _series[series].Add(ms);
        }

        private void Loop()
        {
            while (!_stop)
            {
                var now = Stopwatch.GetTimestamp();
                ThreadPool.UnsafeQueueUserWorkItem(sent => Note(0, sent), now, preferLocal: false);
                _probe.Tell(now);
                Thread.Sleep(10);
                var overslept = Stopwatch.GetElapsedTime(now).TotalMilliseconds - 10;
                lock (_gate) _series[2].Add(Math.Max(0, overslept));
            }
        }

        public void Reset()
        {
            lock (_gate) foreach (var s in _series) s.Clear();
        }

        public void Report(string what, double seconds)
        {
            var line = new List<string>();
            lock (_gate)
                for (var i = 0; i < _series.Length; i++)
                {
                    var sorted = _series[i].Order().ToArray();
                    var p99 = sorted.Length == 0 ? 0 : sorted[(int)Math.Min(sorted.Length - 1, Math.Ceiling(sorted.Length * 0.99) - 1)];
                    line.Add($"{Names[i]} {sorted.LastOrDefault():F0} / {p99:F0} / {sorted.Count(x => x > 100)}");
                }
            Console.WriteLine($"  {what,-28} {seconds,5:F1} s   {string.Join("   ", line)}   load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
            Reset();
        }

        public void Dispose()
        {
            _stop = true;
            _thread.Join();
        }
    }
}
