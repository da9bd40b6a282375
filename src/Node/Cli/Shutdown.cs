using System.Runtime.InteropServices;

namespace AkkaL4.Node.Cli;

/// <summary>
/// How a command that starts nodes (<c>run</c>, <c>demo</c>) hears its stop: it listens for SIGTERM and Ctrl+C itself, from
/// before the first node starts, and the nodes' actor systems leave the signals to it (<see cref="CommandOwnsSignals"/>).
/// </summary>
internal static class Shutdown
{
    /// <summary>What the command prints when the stop arrived before it had started (it then ends as after its start).</summary>
    public const string StoppedWhileStarting = "stopped while starting";

    /// <summary>
    /// HOCON for the actor systems of a command that listens itself. With <c>run-by-clr-shutdown-hook = on</c> (cluster.hocon's),
    /// Akka 1.5.73's CoordinatedShutdown listens for SIGTERM and SIGINT too, from the moment a system's cluster extension
    /// starts, and shuts that system down on its own: inside <c>RouterNode.Start</c> the cluster side was then gone before
    /// its actors were made ("Cannot create child while terminating or terminated", exit 1); after the start the cluster
    /// side left before the drain began and the node logged a rejoin. .NET runs the latest registration first, so Akka's
    /// handler also ran (and waited for its shutdown) before the command heard the signal.
    /// </summary>
    public const string CommandOwnsSignals = "akka.coordinated-shutdown.run-by-clr-shutdown-hook = off";

    /// <summary>Completes on Ctrl+C, SIGTERM, or when <paramref name="cancel"/> fires.</summary>
    public static Task WaitAsync(CancellationToken cancel)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cancel.Register(() => done.TrySetResult());
        var registrations = new[]
        {
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; done.TrySetResult(); }),
            PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; done.TrySetResult(); }),
        };
        return done.Task.ContinueWith(_ => { foreach (var r in registrations) r.Dispose(); }, TaskScheduler.Default);
    }
}
