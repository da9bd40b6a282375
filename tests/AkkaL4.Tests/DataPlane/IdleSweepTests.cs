using AkkaL4.Actors.DataPlane;
using static AkkaL4.Tests.DataPlane.Kit;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// The node's idle sweep (<see cref="IdleSweep"/>) on its own, with stand-in relays: whom it asks to expire, what a
/// failing one does to the others, its table under removals; and a relay that has an idle timeout but no sweep. No sockets.
/// </summary>
[Trait("Category", "Unit")]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class IdleSweepTests
{
    private sealed class FakeRelay(long lastActivity, long idleMs, bool throws = false) : IdleSweep.IIdle
    {
        private int _expired;
        public long LastActivity { get; set; } = lastActivity;
        public long IdleTimeoutMs => idleMs;
        public int SweepSlot { get; set; } = -1;
        public int Expired => Volatile.Read(ref _expired);
        public void Expire()
        {
            Interlocked.Increment(ref _expired);
            if (throws) throw new InvalidOperationException("broken relay");
        }
    }

    private static IdleSweep NewSweep() => new((e, _) => throw new Xunit.Sdk.XunitException($"unexpected expiry failure: {e}"));

    [Fact]
    public async Task The_sweep_asks_only_registered_relays_idle_past_their_timeout_to_expire()
    {
        var sweep = NewSweep();
        var now = Environment.TickCount64;
        var stale = new FakeRelay(now - 10_000, 100);
        var active = new FakeRelay(now + 3_600_000, 100); // bytes "just now", for the whole test
        var removed = new FakeRelay(now - 10_000, 100);
        var slow = new FakeRelay(now - 10_000, 3_600_000); // silent, but not for an hour yet
        sweep.Add(stale);
        sweep.Add(active);
        sweep.Add(removed);
        sweep.Add(slow);
        sweep.Remove(removed);
        Assert.Equal(-1, removed.SweepSlot);

        // Several sweeps have run once the stale one was asked three times (each sweep asks it once).
        await EventuallyAsync(() => stale.Expired >= 3, "the stale relay asked to expire by three sweeps");
        Assert.Equal(0, active.Expired);
        Assert.Equal(0, removed.Expired);
        Assert.Equal(0, slow.Expired);
        Assert.Equal(3, sweep.Count);
    }

    [Fact]
    public async Task A_relay_whose_expiry_throws_is_reported_and_the_sweep_goes_on_for_the_others()
    {
        var failures = new System.Collections.Concurrent.ConcurrentQueue<(Exception Error, long Count)>();
        var sweep = new IdleSweep((e, count) => failures.Enqueue((e, count)));
        var now = Environment.TickCount64;
        // The broken one first in the table, so that without the guard it would also keep the others from being asked.
        var broken = new FakeRelay(now - 10_000, 100, throws: true);
        var stale = new FakeRelay(now - 10_000, 100);
        sweep.Add(broken);
        sweep.Add(stale);

        await EventuallyAsync(() => stale.Expired >= 3 && broken.Expired >= 3, "both relays asked to expire by three sweeps");
        var first = Assert.Single(failures); // only the 1st of every 100 failures is reported
        Assert.Equal(1, first.Count);
        Assert.Equal("broken relay", first.Error.Message);
        Assert.Equal(2, sweep.Count);
    }

    [Fact]
    public void A_relay_with_an_idle_timeout_but_no_sweep_is_refused_rather_than_never_timing_out()
    {
        var parts = new RelayParts(TimeSpan.FromSeconds(1), _ => { });
        var error = Assert.Throws<InvalidOperationException>(() => new RelayStage(parts).CreateLogicAndMaterializedValue(Akka.Streams.Attributes.None));
        Assert.Contains("IdleSweep", error.Message);
    }

    /// <summary>A relay whose stamp the sweep reads only once it is let go (the first time it is read).</summary>
    private sealed class SlowRelay(long idleMs) : IdleSweep.IIdle
    {
        public readonly ManualResetEventSlim Reading = new();
        public readonly ManualResetEventSlim Go = new();
        public long LastActivity
        {
            get
            {
                if (!Reading.IsSet)
                {
                    Reading.Set();
                    Go.Wait(2 * Waits.Patience); // past the test's own wait, so a sweep that holds the table while it reads fails it
                }
                return Environment.TickCount64;
            }
        }
        public long IdleTimeoutMs => idleMs;
        public int SweepSlot { get; set; } = -1;
        public void Expire() { }
    }

    [Fact]
    public async Task Relays_register_and_unregister_while_a_sweep_reads_the_stamps()
    {
        // Relays register and unregister from their hosts' turns on the sockets' event threads: a sweep reading the stamps of
        // every relay must not hold them up for the whole read (a few ms with tens of thousands of relays).
        var sweep = NewSweep();
        var others = Enumerable.Range(0, 600).Select(_ => new FakeRelay(Environment.TickCount64, 3_600_000)).ToList();
        others.ForEach(sweep.Add);
        var slow = new SlowRelay(100); // in the third batch of the sweep's reads, with the shortest period
        sweep.Add(slow);
        await EventuallyAsync(() => slow.Reading.IsSet, "a sweep reading the slow relay's stamp");

        var newcomer = new FakeRelay(Environment.TickCount64, 3_600_000);
        var meanwhile = Task.Run(() =>
        {
            sweep.Add(newcomer);
            sweep.Remove(others[0]);
            return sweep.Count;
        });
        try
        {
            await EventuallyAsync(() => meanwhile.IsCompleted, "a relay added and one removed while the sweep reads");
        }
        finally
        {
            slow.Go.Set();
        }
        Assert.Equal(601, await meanwhile);
        Assert.Equal(0, newcomer.Expired);
    }

    [Fact]
    public void Removing_in_any_order_keeps_the_table_consistent()
    {
        var sweep = NewSweep();
        var relays = Enumerable.Range(0, 3000).Select(_ => new FakeRelay(Environment.TickCount64, 3_600_000)).ToList();
        relays.ForEach(sweep.Add);
        var random = new Random(15);
        var gone = relays.OrderBy(_ => random.Next()).Take(2500).ToList();
        foreach (var relay in gone) sweep.Remove(relay);
        foreach (var relay in gone) sweep.Remove(relay); // twice is harmless
        Assert.Equal(500, sweep.Count);
        Assert.All(gone, r => Assert.Equal(-1, r.SweepSlot));
        var kept = relays.Except(gone).ToList();
        Assert.Equal(Enumerable.Range(0, 500), kept.Select(r => r.SweepSlot).Order());
        kept.ForEach(sweep.Remove);
        Assert.Equal(0, sweep.Count);
    }
}
