using Akka.Actor;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// A node with no thread free for its connections, as under overload: its connection actors run on a dispatcher of one
/// thread (<see cref="Settings"/>, a deployment for every listener's children), which the test holds until
/// <see cref="Release"/>. Each connection the listener starts meanwhile is pending (accepted, its actor not yet run).
/// </summary>
internal sealed class HeldConnectionThread : IDisposable
{
    private const string Dispatcher = "akkal4-test.held-connections";

    /// <summary>Added to a <see cref="TestRouter"/>'s settings: the one thread that runs every connection actor.</summary>
    public const string Settings = $$"""
        {{Dispatcher}} {
          type = ForkJoinDispatcher
          throughput = 100
          dedicated-thread-pool.thread-count = 1
        }
        akka.actor.deployment { "/listeners/*/*" { dispatcher = {{Dispatcher}} } }
        """;

    private readonly ManualResetEventSlim _release = new();

    private HeldConnectionThread() { }

    /// <summary>Takes the connections' thread (returns once it holds it).</summary>
    public static async Task<HeldConnectionThread> HoldAsync(TestRouter router)
    {
        var held = new HeldConnectionThread();
        var holding = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = held._release;
        var holder = router.Node.System.ActorOf(Props.Create(() => new Holder(holding, release)).WithDispatcher(Dispatcher));
        holder.Tell("hold");
        await Kit.WithinAsync(holding.Task, "the connections' thread held");
        return held;
    }

    /// <summary>The connections' thread runs them again.</summary>
    public void Release() => _release.Set();

    // Released, not disposed: the holder may still be returning from its wait.
    public void Dispose() => Release();

    private sealed class Holder : ReceiveActor
    {
        public Holder(TaskCompletionSource<bool> holding, ManualResetEventSlim release) => ReceiveAny(_ =>
        {
            holding.TrySetResult(true);
            release.Wait();
        });
    }
}
