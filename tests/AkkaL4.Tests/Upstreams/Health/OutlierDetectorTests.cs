using AkkaL4.Actors.Routing;
using AkkaL4.Actors.Upstreams.Health;

namespace AkkaL4.Tests.Upstreams.Health;

/// <summary>Outlier ejection and return as Envoy applies Istio's outlierDetection to TCP, on a clock the test sets.</summary>
[Trait("Category", "Unit")]
public sealed class OutlierDetectorTests
{
    private static readonly DateTime T0 = new(2026, 11, 30, 12, 0, 0, DateTimeKind.Utc);

    private static OutlierPolicy Policy(int x5 = 5, int gateway = 0, int baseSeconds = 30, int maxPercent = 100, int minHealth = 0) =>
        new(x5, gateway, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(baseSeconds), maxPercent, minHealth);

    private static EndpointHealth[] Endpoints(int n) => Enumerable.Range(1, n).Select(i => new EndpointHealth($"10.0.0.{i}:80")).ToArray();

    private static void Fail(OutlierDetector detector, EndpointHealth[] all, int index, int times, DateTime now)
    {
        for (var i = 0; i < times; i++) detector.Failed(all, index, "connection refused", now);
    }

    [Fact]
    public void Consecutive_connect_failures_eject_at_the_threshold_and_a_successful_connect_resets_the_count()
    {
        var detector = new OutlierDetector(Policy(x5: 3));
        var all = Endpoints(2);

        Fail(detector, all, 0, 2, T0);
        detector.Connected(all[0]);
        Fail(detector, all, 0, 2, T0);
        Assert.False(all[0].State.Ejected);
        Assert.Equal(2, all[0].State.ConsecutiveFailures);

        Assert.Equal(OutlierEvent.Ejected, detector.Failed(all, 0, "connection refused", T0));
        var s = all[0].State;
        Assert.True(s.Ejected);
        Assert.Equal("ejected", s.Status);
        Assert.Equal(1, s.TimesEjected);
        Assert.Equal(T0 + TimeSpan.FromSeconds(30), s.EjectedUntil);
        Assert.Equal("connection refused", s.LastError);
        Assert.False(all[1].State.Ejected);
    }

    [Fact]
    public void An_ejected_endpoint_returns_only_at_a_sweep_once_base_ejection_time_times_the_multiplier_has_passed()
    {
        var detector = new OutlierDetector(Policy(x5: 1, baseSeconds: 30));
        var all = Endpoints(2);
        Fail(detector, all, 0, 1, T0);

        Assert.Empty(detector.Sweep(all, T0 + TimeSpan.FromSeconds(29)));
        Assert.True(all[0].State.Ejected);
        Assert.Equal([0], detector.Sweep(all, T0 + TimeSpan.FromSeconds(30)));
        Assert.Equal("healthy", all[0].State.Status);
        Assert.Equal(0, all[0].State.ConsecutiveFailures);

        // Ejected again right away: twice as long.
        var t1 = T0 + TimeSpan.FromSeconds(31);
        Fail(detector, all, 0, 1, t1);
        Assert.Equal(2, all[0].State.TimesEjected);
        Assert.Equal(t1 + TimeSpan.FromSeconds(60), all[0].State.EjectedUntil);
        Assert.Empty(detector.Sweep(all, t1 + TimeSpan.FromSeconds(59)));
        Assert.Equal([0], detector.Sweep(all, t1 + TimeSpan.FromSeconds(60)));

        // Each clean sweep after a return takes one off the multiplier: two clean sweeps, and the next ejection is 30 s again.
        var t2 = t1 + TimeSpan.FromSeconds(70);
        detector.Sweep(all, t2);
        detector.Sweep(all, t2 + TimeSpan.FromSeconds(10));
        Fail(detector, all, 0, 1, t2 + TimeSpan.FromSeconds(11));
        Assert.Equal(3, all[0].State.TimesEjected);
        Assert.Equal(t2 + TimeSpan.FromSeconds(41), all[0].State.EjectedUntil);
    }

    [Fact]
    public void An_ejection_lasts_at_most_300_seconds_or_the_base_ejection_time()
    {
        var detector = new OutlierDetector(Policy(x5: 1, baseSeconds: 120));
        var all = Endpoints(1);
        var now = T0;
        var durations = new List<TimeSpan>();
        for (var i = 0; i < 5; i++)
        {
            Fail(detector, all, 0, 1, now);
            var until = all[0].State.EjectedUntil!.Value;
            durations.Add(until - now);
            detector.Sweep(all, until);
            now = until;
        }
        Assert.Equal([120, 240, 300, 300, 300], durations.Select(d => (int)d.TotalSeconds));

        var longBase = new OutlierDetector(Policy(x5: 1, baseSeconds: 600));
        var one = Endpoints(1);
        Fail(longBase, one, 0, 1, T0);
        longBase.Sweep(one, T0 + TimeSpan.FromSeconds(600));
        Fail(longBase, one, 0, 1, T0 + TimeSpan.FromSeconds(600));
        Assert.Equal(T0 + TimeSpan.FromSeconds(1200), one[0].State.EjectedUntil);
    }

    [Fact]
    public void Max_ejection_percent_counts_the_ejection_about_to_happen_and_an_overflow_starts_the_count_again()
    {
        // Envoy: 100 × (ejected + 1) / endpoints ≤ maxEjectionPercent. Ten endpoints at 10%: one ejection.
        var detector = new OutlierDetector(Policy(x5: 2, maxPercent: 10));
        var ten = Endpoints(10);
        Fail(detector, ten, 0, 2, T0);
        Assert.True(ten[0].State.Ejected);
        detector.Failed(ten, 1, "refused", T0);
        Assert.Equal(OutlierEvent.Overflow, detector.Failed(ten, 1, "refused", T0));
        Assert.False(ten[1].State.Ejected);
        Assert.Equal(0, ten[1].State.FailuresCounted);
        Assert.Equal(2, ten[1].State.ConsecutiveFailures);
        // The next failure alone does not try again; the threshold must be reached again.
        Assert.Equal(OutlierEvent.None, detector.Failed(ten, 1, "refused", T0));

        // Istio's default of 10% with fewer than ten endpoints ejects none.
        var nine = Endpoints(9);
        Fail(detector, nine, 0, 2, T0);
        Assert.DoesNotContain(nine, e => e.State.Ejected);

        // Once the first returns, the second may go.
        detector.Sweep(ten, T0 + TimeSpan.FromSeconds(30));
        Fail(detector, ten, 1, 2, T0 + TimeSpan.FromSeconds(31));
        Assert.True(ten[1].State.Ejected);
    }

    [Fact]
    public void For_TCP_a_connect_failure_is_a_gateway_error_too_and_the_lower_enabled_threshold_ejects()
    {
        var gatewayOnly = new OutlierDetector(Policy(x5: 0, gateway: 2));
        var a = Endpoints(2);
        Fail(gatewayOnly, a, 0, 2, T0);
        Assert.True(a[0].State.Ejected);

        var both = new OutlierDetector(Policy(x5: 4, gateway: 2));
        var b = Endpoints(2);
        Fail(both, b, 0, 2, T0);
        Assert.True(b[0].State.Ejected);

        var neither = new OutlierDetector(Policy(x5: 0, gateway: 0));
        var c = Endpoints(2);
        Fail(neither, c, 0, 50, T0);
        Assert.False(c[0].State.Ejected);
        Assert.Equal(50, c[0].State.ConsecutiveFailures);
    }

    [Fact]
    public void With_split_local_origin_errors_connect_failures_count_only_toward_consecutive_local_origin_failures()
    {
        var split = new OutlierDetector(Policy(x5: 1, gateway: 1) with { LocalOriginFailures = 3 });
        var all = Endpoints(2);
        Fail(split, all, 0, 2, T0);
        Assert.False(all[0].State.Ejected);
        Fail(split, all, 0, 1, T0);
        Assert.True(all[0].State.Ejected);
    }

    [Fact]
    public void Without_outlier_detection_failures_are_recorded_and_earlier_ejections_end_when_a_router_starts()
    {
        var all = Endpoints(2);
        new OutlierDetector(Policy(x5: 1)).Failed(all, 0, "refused", T0);
        Assert.True(all[0].State.Ejected);

        var none = new OutlierDetector(null);
        none.Reconcile(all);
        Assert.False(all[0].State.Ejected);
        none.Failed(all, 1, "timed out", T0);
        Assert.Equal(1, all[1].State.ConsecutiveFailures);
        Assert.False(all[1].State.Ejected);
    }

    [Theory]
    [InlineData(0, 0, 4, false)]   // minHealthPercent 0: never
    [InlineData(50, 2, 4, false)]  // 50% routable is not below 50
    [InlineData(50, 1, 4, true)]
    [InlineData(100, 3, 4, true)]
    [InlineData(30, 0, 0, false)]  // no endpoints: nothing to panic over
    public void Panic_when_fewer_than_min_health_percent_of_the_endpoints_are_routable(int minHealth, int routable, int total, bool panic) =>
        Assert.Equal(panic, PanicPolicy.InPanic(routable, total, Policy(minHealth: minHealth)));
}
