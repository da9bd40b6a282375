using AkkaL4.Actors.Config;
using AkkaL4.Actors.Routing;
using AkkaL4.Actors.Upstreams.Health;

namespace AkkaL4.Tests.Upstreams.Health;

/// <summary>The <c>akkal4.io/health-check</c> annotation: parsing, validation, and the check verdicts.</summary>
[Trait("Category", "Unit")]
public sealed class ActiveHealthCheckTests
{
    private static readonly DateTime T0 = new(2026, 11, 30, 12, 0, 0, DateTimeKind.Utc);
    private static readonly HealthCheckPolicy Checks = new(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1), 3, 2);

    private static EndpointHealthState Run(EndpointHealthState s, string results)
    {
        foreach (var r in results) s = r == '+' ? ActiveHealthCheck.Passed(s, Checks) : ActiveHealthCheck.Failed(s, Checks, "refused", T0);
        return s;
    }

    [Fact]
    public void The_first_answer_decides_then_unhealthy_failures_in_a_row_take_it_out_and_healthy_passes_bring_it_back()
    {
        Assert.Equal(CheckVerdict.Healthy, Run(EndpointHealthState.Initial, "+").Check);
        Assert.Equal(CheckVerdict.Unhealthy, Run(EndpointHealthState.Initial, "-").Check);

        Assert.Equal(CheckVerdict.Healthy, Run(EndpointHealthState.Initial, "+--+--").Check);
        var down = Run(EndpointHealthState.Initial, "+---");
        Assert.Equal(CheckVerdict.Unhealthy, down.Check);
        Assert.False(down.Routable);
        Assert.Equal("unhealthy", down.Status);
        Assert.Equal("health check: refused", down.LastError);

        Assert.Equal(CheckVerdict.Unhealthy, Run(down, "+-+").Check);
        Assert.Equal(CheckVerdict.Healthy, Run(down, "+-++").Check);
    }

    [Fact]
    public void A_passing_check_returns_an_ejected_endpoint_unless_its_checks_are_failing()
    {
        var ejected = EndpointHealthState.Initial with { Ejected = true, EjectedUntil = T0.AddSeconds(30), TimesEjected = 1, Check = CheckVerdict.Healthy };
        var passed = ActiveHealthCheck.Passed(ejected, Checks);
        Assert.False(passed.Ejected);
        Assert.True(passed.Routable);
        Assert.Equal(1, passed.TimesEjected);

        var failing = ejected with { Check = CheckVerdict.Unhealthy, CheckStreak = -3 };
        Assert.True(ActiveHealthCheck.Passed(failing, Checks).Ejected);
    }

    [Fact]
    public void The_annotation_parses_with_defaults_for_keys_left_out()
    {
        Assert.True(HealthCheckPolicy.TryParse("interval=5s,timeout=1s,unhealthy=3,healthy=2", out var full, out _));
        Assert.Equal(Checks, full);
        Assert.True(HealthCheckPolicy.TryParse(" interval = 2s , healthy=1", out var some, out _));
        Assert.Equal(HealthCheckPolicy.Defaults with { Interval = TimeSpan.FromSeconds(2), HealthyThreshold = 1 }, some);
        Assert.Equal("interval=2s,timeout=1s,unhealthy=3,healthy=1", some.ToString());
    }

    [Theory]
    [InlineData("interval=5", ".interval", "missing unit")]
    [InlineData("interval=0s", ".interval", "at least 1ms")]
    [InlineData("timeout=1.5ms", ".timeout", "finer than a millisecond")]
    [InlineData("interval=2h", ".interval", "longer than 1h")]
    [InlineData("unhealthy=0", ".unhealthy", "1 to 1000")]
    [InlineData("healthy=two", ".healthy", "1 to 1000")]
    [InlineData("intervall=5s", ".intervall", "unknown key")]
    [InlineData("interval=5s,interval=6s", ".interval", "given twice")]
    [InlineData("interval=1s,timeout=2s", ".timeout", "longer than interval")]
    [InlineData("fast", "", "not key=value")]
    public void A_bad_annotation_is_rejected_by_validation_with_its_field_path(string value, string field, string message)
    {
        var report = ConfigCheck.Check([("dr.yaml", Istio("DestinationRule", "web", "shop", "host: web", $$"""annotations: {"akkal4.io/health-check": "{{value}}"}"""))]);
        var error = Assert.Single(report.Errors);
        Assert.Equal("DestinationRule/shop/web", error.Resource);
        Assert.Equal("metadata.annotations[\"akkal4.io/health-check\"]" + field, error.Field);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_annotation_reaches_every_cluster_of_the_rule_and_a_rule_without_it_has_no_checks()
    {
        var report = ConfigCheck.Check([("all.yaml", Join(
            ServiceOnPorts("web", "shop", "10.1.0.1", "web", 80),
            WorkloadEntry("web-1", "10.1.1.1", "{app: web, v: \"1\"}", "shop"),
            Istio("DestinationRule", "web", "shop", "host: web\nsubsets: [{name: v1, labels: {v: \"1\"}}]",
                "annotations: {akkal4.io/health-check: \"interval=2s,unhealthy=1\"}"),
            ServiceOnPorts("db", "shop", "10.1.0.2", "web", 5432)))]);
        Assert.True(report.Ok, string.Join("; ", report.Errors));
        var snapshot = RouteCompiler.Compile(report.Resources, AkkaL4.Messages.Model.Labels.Empty);
        var web = snapshot.Clusters.Where(c => c.Host == "web.shop.svc.cluster.local").ToList();
        Assert.NotEmpty(web);
        Assert.All(web, c => Assert.Equal(HealthCheckPolicy.Defaults with { Interval = TimeSpan.FromSeconds(2), UnhealthyThreshold = 1 }, c.Policy.HealthCheck));
        Assert.All(snapshot.Clusters.Where(c => c.Host == "db.shop.svc.cluster.local"), c => Assert.Null(c.Policy.HealthCheck));
    }
}
