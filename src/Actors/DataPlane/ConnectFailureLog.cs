using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// Upstream connect failures in the node's own log, so an operator tailing it (the access log off, or in a file) sees a
/// cluster whose endpoints refuse: per upstream cluster the first failure at once, then, each
/// <c>akkal4.data-plane.connect-failure-log-interval</c> (60 s) that had any, one line counting them and the connections
/// that did connect, with the last failure. A cluster with a quiet interval is forgotten, so its next failure is logged at
/// once again. One per data-plane actor system (an Akka extension), so nodes in one process keep their own.
/// </summary>
public sealed class ConnectFailureLog : IExtension
{
    private sealed class Window
    {
        public int Failures;
        public int Connected;
        public string Last = "";
    }

    private readonly ConcurrentDictionary<string, Window> _clusters = new(StringComparer.Ordinal);
    private readonly ILoggingAdapter _log;
    private readonly TimeSpan _interval;

    public ConnectFailureLog(ExtendedActorSystem system)
    {
        _log = Logging.GetLogger(system, "AkkaL4.Upstreams");
        _interval = system.Settings.Config.GetTimeSpan("akkal4.data-plane.connect-failure-log-interval", TimeSpan.FromSeconds(60));
        system.Scheduler.Advanced.ScheduleRepeatedly(_interval, _interval, Flush);
    }

    public static ConnectFailureLog Of(ActorSystem system) => system.WithExtension<ConnectFailureLog, ConnectFailureLogProvider>();

    /// <summary>A connect to <paramref name="cluster"/> failed; <paramref name="failure"/> says which endpoint and why.</summary>
    public void Failed(string cluster, string failure)
    {
        var first = false;
        var window = _clusters.GetOrAdd(cluster, _ => { first = true; return new Window(); });
        lock (window)
        {
            if (!first) window.Failures++;
            window.Last = failure;
        }
        if (first)
            _log.Warning("upstream cluster {0}: {1} (further connect failures of this cluster are counted, one line every {2})",
                cluster, failure, Seconds(_interval));
    }

    /// <summary>A connect to <paramref name="cluster"/> succeeded: counted only while its failures are (nothing to do otherwise).</summary>
    public void Connected(string cluster)
    {
        if (_clusters.IsEmpty || !_clusters.TryGetValue(cluster, out var window)) return;
        lock (window) window.Connected++;
    }

    private void Flush()
    {
        foreach (var (cluster, window) in _clusters)
        {
            int failures, connected;
            string last;
            lock (window)
            {
                (failures, connected, last) = (window.Failures, window.Connected, window.Last);
                (window.Failures, window.Connected) = (0, 0);
            }
            if (failures == 0)
            {
                // A quiet interval: the next failure is news again. (One racing in now is logged as first: harmless.)
                _clusters.TryRemove(cluster, out _);
                continue;
            }
            _log.Warning("upstream cluster {0}: {1} connect failure(s) in the last {2}, {3} connection(s) connected; the last: {4}",
                cluster, failures, Seconds(_interval), connected, last);
        }
    }

    private static string Seconds(TimeSpan interval) => interval.TotalSeconds >= 1 ? $"{interval.TotalSeconds:0.#}s" : $"{interval.TotalMilliseconds:0}ms";
}

public sealed class ConnectFailureLogProvider : ExtensionIdProvider<ConnectFailureLog>
{
    public override ConnectFailureLog CreateExtension(ExtendedActorSystem system) => new(system);
}
