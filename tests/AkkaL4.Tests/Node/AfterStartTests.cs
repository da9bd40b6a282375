using System.Runtime.CompilerServices;
using AkkaL4.Node;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Node;

/// <summary>A node gives back what its start used once it is up (session 15, perf15): the GC heap's garbage and free
/// regions, which an idle node otherwise kept resident for many minutes, then the C library's (<see cref="NativeHeapTests"/>).</summary>
[Trait("Category", TestCategories.Unit)]
public sealed class AfterStartTests
{
    [Fact]
    public void Release_returns_the_GC_heaps_free_memory_to_the_system()
    {
        var (garbage, before) = HeldThenDropped();

        Assert.True(AfterStart.Release(connectionsOpen: 0, clusterPeers: 0));

        var after = GC.GetGCMemoryInfo(GCKind.Any).TotalCommittedBytes;
        Assert.False(garbage.IsAlive);
        Assert.True(before - after >= 64L << 20, $"committed {before >> 10} KiB with 128 MiB held, {after >> 10} KiB after it was dropped and released");
    }

    [Fact]
    public void A_node_with_connections_open_is_not_stopped_for_a_blocking_collection() =>
        Assert.False(AfterStart.Release(connectionsOpen: 1, clusterPeers: 0));

    /// <summary>rel18: the collection stops the heartbeats the peers wait for (0.5-1.9 s on a loaded host, the next heartbeat as late).</summary>
    [Fact]
    public void A_node_with_cluster_peers_is_not_stopped_for_a_blocking_collection() =>
        Assert.False(AfterStart.Release(connectionsOpen: 0, clusterPeers: 2));

    /// <summary>128 MiB of small objects (the small-object heap, in regions), promoted to gen2 by two collections while
    /// held, then dropped (made in a method of its own, so that no local of the test keeps them): the heap keeps their
    /// memory committed until a collection gives it back. Also what the heap had committed while they were held.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (WeakReference Garbage, long Committed) HeldThenDropped()
    {
        const int Size = 4096, Count = 32 * 1024;
        var held = new List<byte[]>(Count);
        for (var i = 0; i < Count; i++) held.Add(new byte[Size]);
        GC.Collect();
        GC.Collect();
        return (new WeakReference(held), GC.GetGCMemoryInfo(GCKind.Any).TotalCommittedBytes);
    }

    [Fact]
    public async Task Releasing_after_start_ends_when_the_node_stops()
    {
        using var stop = new CancellationTokenSource();
        var releasing = AfterStart.ReleaseAsync(() => 0, () => 0, stop.Token);
        stop.Cancel();
        // The last release is a minute after start: a stopped node does not wait for it.
        Assert.Same(releasing, await Task.WhenAny(releasing, Task.Delay(TimeSpan.FromSeconds(10))));
        Assert.True(AfterStart.Delays[^1] > TimeSpan.FromSeconds(10));
    }
}
