using AkkaL4.Actors.DataPlane;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane;

/// <summary>The untrusted-PROXY-peer warning rate: one per listener per interval, on a test clock (no waiting).</summary>
[Trait("Category", "Unit")]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class WarningThrottleTests
{
    [Fact]
    public void One_warning_per_listener_per_interval_carrying_the_count_since_the_last()
    {
        long now = 1_000;
        var throttle = new WarningThrottle(TimeSpan.FromSeconds(10), () => now);

        Assert.Equal(1, throttle.Count("gw"));
        // 20,000 more refusals within the interval: none warned about, whoever sends them.
        for (var i = 0; i < 20_000; i++) Assert.Equal(0, throttle.Count("gw"));
        // Another listener has its own window.
        Assert.Equal(1, throttle.Count("other"));

        now += 9_999;
        Assert.Equal(0, throttle.Count("gw"));
        now += 1;
        Assert.Equal(20_002, throttle.Count("gw"));
        Assert.Equal(0, throttle.Count("gw"));
        now += 60_000;
        Assert.Equal(2, throttle.Count("gw"));
    }
}
