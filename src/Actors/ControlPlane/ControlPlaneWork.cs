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
        Task.Factory.StartNew(() => ConfigCheck.Check(text, source), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}
