using System.Diagnostics;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Implementation.Fusing;
using Akka.Streams.Stage;
using AkkaL4.Actors;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane.Transport;

/// <summary>
/// A stage's events told through <see cref="StageEvents"/> (the socket relay's completions) arrive as Akka's async callback
/// delivers them, inside the stage's interpreter and in order, and a message made once is told with no allocation. The stage
/// here runs on the relay hosts' dispatcher in a real materializer; what it relies on in Akka.Streams (the interpreter's
/// shell behind its OnAsyncInput) is checked first, so that an Akka version without it is seen here.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class StageEventsTests : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("stage-events", BuiltInHocon.RelayDispatcher());

    public void Dispose() => _system.Dispose();

    private sealed class Probe(TaskCompletionSource<Probe.Logic> started) : GraphStage<SourceShape<int>>
    {
        private readonly Outlet<int> _out = new("probe.out");

        public override SourceShape<int> Shape => new(_out);

        protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this, started);

        public sealed class Logic : GraphStageLogic
        {
            private readonly TaskCompletionSource<Logic> _started;
            public readonly Action<object> Handler;
            public GraphInterpreter? Interpreter;
            public object? Prepared;
            /// <summary>Akka's own async callback to the same handler.</summary>
            public Action<object> Callback = null!;
            public readonly List<object> Seen = [];
            public int Outside;
            /// <summary>Events handled so far.</summary>
            public int Count;
            public readonly TaskCompletionSource Stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

            public Logic(Probe stage, TaskCompletionSource<Logic> started) : base(stage.Shape)
            {
                _started = started;
                Handler = OnEvent;
                SetHandler(stage._out, onPull: () => { }, onDownstreamFinish: _ => { });
            }

            public override void PreStart()
            {
                Interpreter = StageEvents.Of(this);
                if (Interpreter is not null) Prepared = StageEvents.Prepare(Interpreter, this, Handler, "prepared");
                Callback = GetAsyncCallback(Handler);
                _started.TrySetResult(this);
            }

            public override void PostStop() => Stopped.TrySetResult();

            private void OnEvent(object e)
            {
                if (!ReferenceEquals(GraphInterpreter.CurrentInterpreterOrNull, Interpreter)) Outside++;
                lock (Seen) Seen.Add(e);
                Interlocked.Increment(ref Count);
                // Told from inside the interpreter: Akka's own queue for an interpreter telling itself.
                if (e is "again") StageEvents.TellPrepared(Prepared!);
                if (e is "stop") CompleteStage();
            }
        }
    }

    private static TaskCompletionSource<Probe.Logic> Starting() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task<Probe.Logic> StartedAsync()
    {
        var started = Starting();
        _ = Source.FromGraph(new Probe(started)).WithAttributes(ActorAttributes.CreateDispatcher(Relays.Dispatcher))
            .RunWith(Sink.Ignore<int>(), _system.Materializer());
        return await started.Task.WaitAsync(Patience);
    }

    private static Task UntilSeenAsync(Probe.Logic probe, int count) =>
        EventuallyAsync(() => Volatile.Read(ref probe.Count) >= count, $"{count} events are handled");

    /// <summary>
    /// Runs <paramref name="tell"/> <paramref name="times"/> times on a thread of its own, each once the one before was handled
    /// (as a request waits for its answer; a burst would measure the mailbox's queue growing): the bytes that thread allocated.
    /// </summary>
    private static long AllocatedTelling(Probe.Logic probe, Action tell, int times)
    {
        long allocated = 0;
        var timedOut = false;
        var thread = new Thread(() =>
        {
            var handled = Volatile.Read(ref probe.Count);
            var deadline = Stopwatch.GetTimestamp() + (long)(Patience.TotalSeconds * Stopwatch.Frequency);
            for (var i = -1; i < times && !timedOut; i++)
            {
                // The first call's one-time costs (the interpreter's thread-local, the queue's segment) are not counted.
                if (i == 0) allocated = -GC.GetAllocatedBytesForCurrentThread();
                tell();
                handled++;
                while (Volatile.Read(ref probe.Count) < handled && !(timedOut = Stopwatch.GetTimestamp() > deadline)) Thread.Yield();
            }
            allocated += GC.GetAllocatedBytesForCurrentThread();
        });
        thread.Start();
        thread.Join();
        Assert.False(timedOut, $"a told event was not handled within {Patience.TotalSeconds} s");
        return allocated;
    }

    [Fact]
    public async Task Events_told_from_any_thread_run_in_order_inside_the_stages_interpreter()
    {
        var probe = await StartedAsync();
        Assert.NotNull(probe.Interpreter);

        var worker = new Thread(() =>
        {
            for (var i = 0; i < 100; i++) StageEvents.Tell(probe.Interpreter!, probe, probe.Handler, i);
            StageEvents.TellPrepared(probe.Prepared!);
            StageEvents.Tell(probe.Interpreter!, probe, probe.Handler, "again");
        });
        worker.Start();
        worker.Join();
        await UntilSeenAsync(probe, 103);

        lock (probe.Seen)
            Assert.Equal([.. Enumerable.Range(0, 100).Cast<object>(), "prepared", "again", "prepared"], probe.Seen);
        Assert.Equal(0, probe.Outside);
    }

    [Fact]
    public async Task A_prepared_message_is_told_without_allocating_where_akkas_callback_allocates_each_time()
    {
        var probe = await StartedAsync();
        const int times = 2000;

        var prepared = AllocatedTelling(probe, () => StageEvents.TellPrepared(probe.Prepared!), times);
        var akka = AllocatedTelling(probe, () => probe.Callback("by callback"), times);

        // Akka.Streams 1.5.73's callback: a closure and a boxed AsyncInput, ~120 bytes a call (bench/README.md, session 30).
        Assert.True(akka / times >= 48, $"Akka's callback allocated {akka / times} B per call: the measure sees no allocation");
        Assert.True(prepared / times < 8, $"a prepared message allocated {prepared / (double)times:F1} B per tell");
    }

    [Fact]
    public async Task A_prepared_message_told_after_its_stage_stopped_is_dropped_and_the_interpreter_goes_on()
    {
        // Two stages in one interpreter (one actor, one mailbox): the first stops, the second keeps the interpreter running.
        var (first, second) = (Starting(), Starting());
        _ = Source.FromGraph(new Probe(first)).Merge(Source.FromGraph(new Probe(second)))
            .WithAttributes(ActorAttributes.CreateDispatcher(Relays.Dispatcher)).RunWith(Sink.Ignore<int>(), _system.Materializer());
        var (stopped, running) = (await first.Task.WaitAsync(Patience), await second.Task.WaitAsync(Patience));
        Assert.Same(stopped.Interpreter, running.Interpreter);
        StageEvents.Tell(stopped.Interpreter!, stopped, stopped.Handler, "stop");
        await stopped.Stopped.Task.WaitAsync(Patience);

        // As a socket's completion that arrives after its relay stopped; the running stage's event, told after it through
        // the same mailbox, shows it was taken up.
        StageEvents.TellPrepared(stopped.Prepared!);
        StageEvents.TellPrepared(running.Prepared!);
        await UntilSeenAsync(running, 1);

        lock (stopped.Seen) Assert.Equal(["stop"], stopped.Seen);
        lock (running.Seen) Assert.Equal(["prepared"], running.Seen);
    }
}
