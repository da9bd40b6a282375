using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>The writer's one log line per revision stays readable whatever the write's size.</summary>
[Trait("Category", TestCategories.Unit)]
public sealed class ChangeSummaryTests
{
    [Fact]
    public void A_few_changes_are_named_one_by_one()
    {
        var line = ConfigWriter.ChangeSummary([
            new ResourceChange(new ResourceKey("Service", "shop", "web"), ChangeAction.Created),
            new ResourceChange(new ResourceKey("VirtualService", "shop", "web"), ChangeAction.Deleted)]);
        Assert.Equal("Service/shop/web created, VirtualService/shop/web deleted", line);
    }

    [Fact]
    public void Ten_thousand_changes_are_counted_by_action_and_kind_with_the_first_few_named()
    {
        var changes = Enumerable.Range(0, 10_000)
            .Select(i => new ResourceChange(new ResourceKey(i % 4 == 0 ? "WorkloadEntry" : "Service", $"big-{i % 10}", $"svc-{i}"),
                i < 9_000 ? ChangeAction.Created : ChangeAction.Updated))
            .ToList();
        var line = ConfigWriter.ChangeSummary(changes);
        Assert.True(line.Length < 2_000, $"{line.Length} characters: {line[..200]}…");
        Assert.StartsWith("10000 changes in 10 namespace(s): 9000 created (Service 6750, WorkloadEntry 2250), 1000 updated (Service 750, WorkloadEntry 250);", line);
        Assert.Contains($"the first {ConfigWriter.ChangesNamed}: WorkloadEntry/big-0/svc-0 created, Service/big-1/svc-1 created", line);
        Assert.DoesNotContain($"svc-{ConfigWriter.ChangesNamed} ", line);
    }
}
