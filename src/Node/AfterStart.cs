namespace AkkaL4.Node;

/// <summary>
/// Gives back what a node's start used and no longer needs, once it is up: first the GC heap's (a full, compacting
/// collection that also returns the free regions to the system, <see cref="GCCollectionMode.Aggressive"/>), then the
/// C library's (<see cref="NativeHeap"/>). A start allocates ~43 MB (HOCON, the configuration, Akka's extensions and
/// cluster join, the admin server), and an idle node allocates ~4 KB/s after it, so without a collection the start's
/// garbage, its promoted leftovers and the regions they filled stayed resident for many minutes: −10 to −11 MiB of a
/// fresh node (bench/README.md, "Memory, session 15"). Each collection is one blocking full GC, so it runs only while
/// the node has no connection open: a node restarted into traffic (replicas sharing a port, a configuration in force
/// before ready) may hold many connections' heap by then, and a compacting collection of hundreds of MB stalls every
/// relay for up to a second (review1-s15 R1); such a node only trims the C library's heaps (the background GC looks
/// after its heap). Nor while the node has cluster peers (rel18): the collection stops Akka's heartbeats with everything
/// else, and on a loaded 2-core host WriteChaosTests measured these collections at 0.5-1.9 s (once 5.2 s), each with the
/// node's next heartbeat sent that much late (1.4 s and 2.0 s, against a 2 s acceptable-heartbeat-pause); a node restarted
/// shortly before a big write ran its 10 s and 60 s ones on a heap holding that write (bench/README.md, "Heartbeats during
/// a big write"). A node alone (single-node, or still joining) has no heartbeat to miss.
/// </summary>
internal static class AfterStart
{
    /// <summary>When, after the node is up, <see cref="ReleaseAsync"/> releases: at once, and after the start's late
    /// work (tiered compilation's second compilations, the cluster settling) has freed what it used.</summary>
    internal static readonly TimeSpan[] Delays = [TimeSpan.Zero, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60)];

    /// <summary>
    /// Collects the GC heap, returning its free memory to the system, unless <paramref name="connectionsOpen"/> or
    /// <paramref name="clusterPeers"/> (a blocking collection would stall the relays, or the heartbeats the peers wait for);
    /// then trims the C library's heaps. Whether it collected.
    /// </summary>
    internal static bool Release(int connectionsOpen, int clusterPeers)
    {
        var collect = connectionsOpen == 0 && clusterPeers == 0;
        if (collect) GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        NativeHeap.Trim();
        return collect;
    }

    /// <summary>Releases at each of <see cref="Delays"/>, until <paramref name="cancel"/>; <paramref name="connectionsOpen"/> and
    /// <paramref name="clusterPeers"/> are asked each time.</summary>
    internal static async Task ReleaseAsync(Func<int> connectionsOpen, Func<int> clusterPeers, CancellationToken cancel)
    {
        var since = TimeSpan.Zero;
        foreach (var at in Delays)
        {
            try { await Task.Delay(at - since, cancel); }
            catch (OperationCanceledException) { return; }
            since = at;
            Release(connectionsOpen(), clusterPeers());
        }
    }
}
