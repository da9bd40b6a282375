using System.Runtime.InteropServices;

namespace AkkaL4.Node.Cli;

internal static class Shutdown
{
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
