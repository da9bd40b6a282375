using System.Runtime.InteropServices;
using AkkaL4.Actors.Config;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>
/// Where the control plane's long CPU work runs: the config writer (decode, validate, analyse, encode a write) and the
/// route-table entities (decode and journal a namespace) on <see cref="WriterDispatcher"/>, every node's route cache
/// (decode, compile, swap a revision) on <see cref="Dispatcher"/>. A 4 MiB write costs each of them seconds of CPU on a
/// loaded 2-core host; on the .NET thread pool that work held the pool's few threads while Akka's heartbeats, remoting and
/// distributed data waited behind it for a thread (up to 1.7 s), and peers marked the node unreachable. On threads of
/// their own they only compete for a core, which the kernel shares in milliseconds, and the pool stays free
/// (bench/README.md, "Heartbeats during a big write").
/// </summary>
public static class ControlPlaneWork
{
    /// <summary>The route cache's dispatcher (cluster.hocon): one dedicated thread.</summary>
    public const string Dispatcher = "akkal4.control-plane-dispatcher";

    /// <summary>
    /// The write path's dispatcher (cluster.hocon): one dedicated thread for the config writer and the route-table entities,
    /// apart from the route cache's, so that on the writer's node a write's answer, a journal callback or the writer's stop
    /// at a hand-over never waits behind a compile of the route cache (seconds for a big configuration).
    /// </summary>
    public const string WriterDispatcher = "akkal4.config-writer-dispatcher";

    /// <summary>
    /// Every node's <see cref="ConfigClient"/>, with its requests and reads (cluster.hocon): one dedicated thread. A request
    /// measures and encodes the write (4 MiB: 0.2-1.0 s under load) and reads the writer's answer, which on the pool held a
    /// thread the heartbeats waited for (rel19); on the writer's thread it held the writer's answers, journal callbacks and
    /// hand-over stop on the writer's node (ConfigClientBesideWriterTests).
    /// </summary>
    public const string ClientDispatcher = "akkal4.config-client-dispatcher";

    /// <summary>
    /// The admin API's decode and validation of a write's manifests (up to 4 MiB of YAML: seconds of CPU under load), on a
    /// thread of its own for the same reason: not on the pool thread that serves the request. A thread per write is cheap
    /// beside the write itself, and there are at most <c>AdminServer.MaxConcurrentWrites</c> (4) of them at once: the slot is
    /// taken before the body is read.
    /// </summary>
    public static Task<ConfigReport> CheckAsync(string text, string source) =>
        Task.Factory.StartNew(() =>
        {
            LowerThisThread(); // a LongRunning task's thread is made for it and ends with it
            return ConfigCheck.Check(text, source);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>
    /// The nice value of the threads that do a write's bulk work (this class's dispatchers, the admin API's check, the
    /// last-known-good writer): below the heartbeat sender's and remoting's (0). On a host whose cores our own nodes fill,
    /// the kernel then runs a runnable heartbeat thread first, where at equal priority it waited behind a 4 MiB
    /// configuration's decode (rel20: heartbeats 2.8-4.5 s late, past the 2 s acceptable pause, and members unreachable).
    /// Bulk work still gets every core nothing else wants; it only slows where it competes (bench/README.md, "Heartbeats
    /// during a big write", session 22).
    /// </summary>
    public const int BulkNice = 10;

    /// <summary>
    /// Lowers the calling thread's CPU priority to <see cref="BulkNice"/> when it is one of this class's dedicated dispatcher
    /// threads (the actors on them call it from their constructor, which runs on their dispatcher). Never a pool thread or
    /// any other, which would keep the priority for unrelated work (an actor made on another dispatcher, in a test say).
    /// </summary>
    public static void YieldToHeartbeats()
    {
        var name = Thread.CurrentThread.Name;
        if (name is null || Thread.CurrentThread.IsThreadPoolThread) return;
        if (name.StartsWith(Dispatcher, StringComparison.Ordinal) || name.StartsWith(WriterDispatcher, StringComparison.Ordinal)
            || name.StartsWith(ClientDispatcher, StringComparison.Ordinal))
            LowerThisThread();
    }

    /// <summary>
    /// Lowers the calling thread's CPU priority to <see cref="BulkNice"/>, for a thread made for bulk work only (Linux: the
    /// nice value is per thread). It needs no privilege; a failure changes nothing but the priority, so it is ignored.
    /// </summary>
    internal static void LowerThisThread()
    {
        if (!OperatingSystem.IsLinux() || _lowered) return;
        _lowered = true;
        SetPriority(PrioProcess, 0, BulkNice);
    }

    [ThreadStatic] private static bool _lowered;

    private const int PrioProcess = 0;

    // setpriority(PRIO_PROCESS, 0, n): on Linux the calling thread only (the nice value is a thread's attribute).
    [DllImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static extern int SetPriority(int which, int who, int priority);
}
