namespace AkkaL4.LoadGen;

/// <summary>
/// The load generator of bench/compare.sh. Every mode prints one machine-readable line per result
/// (<c>result mode=... key=value ...</c>) followed by a human line starting with <c>#</c>.
/// </summary>
public static class Program
{
    private const string Usage = """
        akkal4-loadgen MODE --option value ...

          echo      --listen IP:PORT [--buffer 16384] [--backlog 4096]
                    a backend that writes back every byte it reads
          connrate  --target IP:PORT [--seconds 10] [--concurrency 16] [--sources 127.0.100.1-127.0.100.50]
                    [--close rst|fin] [--timeout 5] [--pid PROXY_PID] [--rate R [--max-inflight 4096] [--warmup 1]]
                    loop: connect, send 64 B, read the echo, close; connections/s and whole-connection p50/p99/p99.9;
                    --rate: open loop, R connections/s on a fixed schedule, latency from when each was due
          pingpong  --target IP:PORT [--connections 8] [--seconds 10] [--sources ...] [--pid PROXY_PID] [--rate R [--warmup 1]]
                    64 B request/response over persistent connections; msg/s and p50/p99/p99.9;
                    --rate: open loop, R messages/s in all on a fixed schedule, latency from when each was due
          idle      --target IP:PORT [--connections 10000] [--pid PROXY_PID] [--sources ...] [--concurrency 64] [--hold 1]
                    open and hold N echo-checked connections; the proxy's RSS per connection
          iperf     --target IP:PORT [--seconds 10] [--streams 1] [--reverse] [--pid PROXY_PID]
                    run the iperf3 client; Gbit/s and the proxy's CPU seconds per GB

        Every load mode takes --label NAME (printed as target=NAME) and --pid PID[,PID...] (the proxy's processes,
        for their CPU time and RSS, summed). An open loop first runs --warmup seconds at its rate, unrecorded. Latencies are kept in HdrHistograms (3 significant digits).
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.Out.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });
        try
        {
            var options = Options.Parse(args[1..]);
            return args[0] switch
            {
                "echo" => await EchoBackend.RunAsync(options, stop.Token),
                "connrate" => await ConnRate.RunAsync(options, stop.Token),
                "pingpong" => await PingPong.RunAsync(options, stop.Token),
                "idle" => await Idle.RunAsync(options, stop.Token),
                "iperf" => await Iperf.RunAsync(options, stop.Token),
                _ => throw new UsageException($"unknown mode '{args[0]}'"),
            };
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"akkal4-loadgen: {e.Message}\n\n{Usage}");
            return 2;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return 130;
        }
    }
}
