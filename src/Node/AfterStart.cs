namespace AkkaL4.Node;

/// <summary>
/// Gives back what a node's start used and no longer needs, once it is up: first the GC heap's (a full, compacting
/// collection that also returns the free regions to the system, <see cref="GCCollectionMode.Aggressive"/>), then the
/// C library's (<see cref="NativeHeap"/>). A start allocates ~43 MB (HOCON, the configuration, Akka's extensions and
/// cluster join, the admin server), and an idle node allocates ~4 KB/s after it, so without a collection the start's
/// garbage, its promoted leftovers and the regions they filled stayed resident for many minutes: −10 to −11 MiB of a
/// fresh node (bench/README.md, "Memory, session 15"). Each collection is one blocking full GC of a heap that is a
/// few MB on a node that has just started (larger with a large configuration), three in all.
/// </summary>
internal static class AfterStart
{
    /// <summary>When, after the node is up, <see cref="ReleaseAsync"/> releases: at once, and after the start's late
    /// work (tiered compilation's second compilations, the cluster settling) has freed what it used.</summary>
    internal static readonly TimeSpan[] Delays = [TimeSpan.Zero, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60)];

    /// <summary>Collects the GC heap, returning its free memory to the system, then trims the C library's heaps.</summary>
    internal static void Release()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        NativeHeap.Trim();
    }

    /// <summary>Releases at each of <see cref="Delays"/>, until <paramref name="cancel"/>.</summary>
    internal static async Task ReleaseAsync(CancellationToken cancel)
    {
        var since = TimeSpan.Zero;
        foreach (var at in Delays)
        {
            try { await Task.Delay(at - since, cancel); }
            catch (OperationCanceledException) { return; }
            since = at;
            Release();
        }
    }
}
