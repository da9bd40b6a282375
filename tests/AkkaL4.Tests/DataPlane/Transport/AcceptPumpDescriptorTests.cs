using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Xunit.Abstractions;
using Akka.Actor;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// <see cref="AcceptPump"/> when the process is out of descriptors (EMFILE): it stays bound, backs off (it does not spin
/// nor end), and hands over what the kernel queued once descriptors are free. Run out for real, which the rest of a test
/// process would not survive (the runtime cannot start a thread then): the test runs itself again in a child test host
/// (<c>dotnet test</c> on this assembly, filtered to it), which lowers its own RLIMIT_NOFILE and fills it. Addresses 127.202.3.x.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", TestCategories.EndToEnd)]
public sealed class AcceptPumpDescriptorTests(ITestOutputHelper output)
{
    private const string ChildVariable = "AKKAL4_TEST_EMFILE_CHILD";
    private static readonly AddressBlock Block = AddressBlocks.Of(202);

    [Fact]
    public async Task Out_of_descriptors_the_pump_backs_off_stays_bound_and_hands_over_the_queued_connections_once_some_are_freed()
    {
        if (Environment.GetEnvironmentVariable(ChildVariable) == "1")
        {
            await RunOutOfDescriptorsAsync(output);
            return;
        }
        if (!OperatingSystem.IsLinux()) return;
        var name = $"{typeof(AcceptPumpDescriptorTests).FullName}.{nameof(Out_of_descriptors_the_pump_backs_off_stays_bound_and_hands_over_the_queued_connections_once_some_are_freed)}";
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "test", typeof(AcceptPumpDescriptorTests).Assembly.Location, "--filter", $"FullyQualifiedName={name}", "--logger", "console;verbosity=detailed" })
            start.ArgumentList.Add(arg);
        start.Environment[ChildVariable] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var child = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet test");
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await child.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            child.Kill(entireProcessTree: true);
            throw;
        }
        var said = await stdout + await stderr;
        output.WriteLine(said);
        Assert.True(child.ExitCode == 0, $"the child test host failed (exit {child.ExitCode}):\n{said}");
        // It ran the test (a filter that matched nothing passes too).
        Assert.Matches(@"Passed:\s+1\b", said);
    }

    /// <summary>In the child: five clients queued, the descriptors exhausted, an ack, then descriptors freed.</summary>
    private static async Task RunOutOfDescriptorsAsync(ITestOutputHelper output)
    {
        var system = ActorSystem.Create("emfile", "akka.loglevel=WARNING");
        var clients = new List<Socket>();
        var filler = new List<Socket>();
        try
        {
            var told = Channel.CreateUnbounded<object>();
            var listener = system.ActorOf(Props.Create(() => new Recording(told.Writer)));
            var at = Block.At(3, 1, 62310);
            var pump = (AcceptPump)new SocketTransport(system.Scheduler).Listen(at, 16, listener, "init", "done", e => e, system.Log);
            Assert.Equal("init", await NextAsync(told));
            for (var i = 0; i < Queued; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(client);
                client.Bind(new IPEndPoint(IPAddress.Parse(Block.Host(3, 200)), 0));
                await client.ConnectAsync(at).WaitAsync(Patience);
            }

            // Out of descriptors the runtime cannot start a thread ("Out of memory."): the threads the next half second may
            // want are started first (pool workers, the background GC's), and the test's own thread blocks rather than awaits.
            ThreadPool.SetMinThreads(16, 16);
            using (var started = new Barrier(16))
                await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(() => started.SignalAndWait(Patience))));
            GC.Collect(2, GCCollectionMode.Forced, blocking: false);
            // The limit a little above the highest descriptor open, then every descriptor under it taken.
            Assert.Equal(0, GetRLimit(RlimitNofile, out var original));
            var highest = Directory.GetFiles("/proc/self/fd").Select(f => int.TryParse(Path.GetFileName(f), out var fd) ? fd : 0).Max();
            var lowered = original with { Current = (ulong)highest + 32 };
            Assert.Equal(0, SetRLimit(RlimitNofile, ref lowered));
            var exhausted = Stopwatch.StartNew();
            Fill(filler);

            // Accepts fail and back off (10 ms doubling to 1 s, tried at about 0, 10, 30, 70, 150, 310, 630, 1270 ms, then
            // each second): a handful, not a spin; nothing handed over or ended. Waited for (a loaded machine may run the
            // retries late): at least two failures (so it retried), and a window of at least 400 ms over which a spin would
            // fail thousands of times. The bound scales with the time actually watched; lateness only lowers the count.
            // Another thread of the runtime may close a descriptor it held while the filler ran (the GC reads the memory
            // status from files, the background GC started above): an accept then rightly succeeds (the kernel had a
            // descriptor for it) and the pump hands a client over, waiting for the next ack; with no failed accept at all,
            // CI of 7d28037 saw "0 failed accepts in 10009 ms". That client counts as handed over; the filler takes what was
            // freed, and the watch starts again from the next ack.
            var accepted = new List<TcpConnection>();
            var baseline = 0L;
            var acked = Stopwatch.StartNew();
            // What the pump told its listener while the filler held every descriptor: a client, then, for one freed by the
            // runtime (the filler takes what was freed), acked at once; anything else fails.
            bool HandedOver()
            {
                if (!told.Reader.TryRead(out var handed)) return false;
                var taken = filler.Count;
                Fill(filler);
                Assert.True(handed is TcpConnection && accepted.Count < Queued - 2,
                    $"the pump told its listener {handed} while out of descriptors ({accepted.Count} handed over before; the filler "
                    + $"took {filler.Count - taken} descriptor(s) freed meanwhile)");
                output.WriteLine($"a descriptor was free after all: client {accepted.Count + 1} handed over, {filler.Count - taken} more taken by the filler");
                accepted.Add((TcpConnection)handed);
                baseline = pump.Shortages;
                pump.Tell("ack");
                acked.Restart();
                return true;
            }
            pump.Tell("ack");
            while ((pump.Shortages - baseline < 2 || acked.Elapsed < Window) && acked.Elapsed < Patience)
            {
                Thread.Sleep(10);
                HandedOver();
            }
            var shortages = pump.Shortages - baseline;
            var watched = acked.Elapsed;
            // The last look before the descriptors are given back: once they are, the pump's next retry rightly hands a client
            // over, so nothing it tells after that says anything about the shortage (looked at after them, this raced it).
            HandedOver();
            foreach (var socket in filler) socket.Dispose();
            filler.Clear();
            var freed = exhausted.Elapsed;
            Assert.Equal(0, SetRLimit(RlimitNofile, ref original));
            var bound = 12 + 2 * (long)watched.TotalSeconds;
            Assert.True(shortages >= 2 && shortages <= bound,
                $"{shortages} failed accepts in {watched.TotalMilliseconds:F0} ms after the ack ({freed.TotalMilliseconds:F0} ms out of descriptors); a backoff gives 2 to {bound}");

            // Freed: the queued clients are handed over, one per ack, none reset.
            for (var first = true; accepted.Count < clients.Count; first = false)
            {
                if (!first) pump.Tell("ack");
                accepted.Add(Assert.IsType<TcpConnection>(await NextAsync(told)));
            }
            foreach (var connection in accepted)
            {
                connection.Socket!.Send([42]);
                var peer = clients.Single(c => c.LocalEndPoint!.Equals(connection.Remote));
                var buffer = new byte[1];
                Assert.Equal(1, await peer.ReceiveAsync(buffer).WaitAsync(Patience));
                connection.Close();
            }
            // Unbinding ends at the listener's next ack, nothing being queued.
            var unbound = pump.Unbind();
            pump.Tell("ack");
            await unbound.WaitAsync(Patience);
            Assert.Equal("done", await NextAsync(told));
        }
        finally
        {
            foreach (var socket in filler) socket.Dispose();
            foreach (var client in clients) client.Dispose();
            await system.Terminate().WaitAsync(Patience);
        }
    }

    /// <summary>Clients queued before the descriptors run out: up to three may be handed over early (see above), two are left.</summary>
    private const int Queued = 5;

    /// <summary>Opens sockets until the process is out of descriptors.</summary>
    private static void Fill(List<Socket> filler)
    {
        try
        {
            while (true) filler.Add(new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TooManyOpenSockets)
        {
            // Full.
        }
    }

    /// <summary>The least time the pump is watched out of descriptors: a spin would fail thousands of accepts in it.</summary>
    private static readonly TimeSpan Window = TimeSpan.FromMilliseconds(400);

    private static async Task<object> NextAsync(Channel<object> told)
    {
        using var deadline = new CancellationTokenSource(Patience);
        return await told.Reader.ReadAsync(deadline.Token);
    }

    private sealed class Recording(ChannelWriter<object> to) : UntypedActor
    {
        protected override void OnReceive(object message) => to.TryWrite(message);
    }

    private const int RlimitNofile = 7;

    private record struct RLimit(ulong Current, ulong Maximum);

    [DllImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static extern int GetRLimit(int resource, out RLimit limit);

    [DllImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static extern int SetRLimit(int resource, ref RLimit limit);
}
