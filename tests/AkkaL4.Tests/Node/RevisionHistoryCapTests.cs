using AkkaL4.Node.Admin;

namespace AkkaL4.Tests.Node;

/// <summary>/v1/status, polled every second, lists at most 100 changes per revision (sec13 #5).</summary>
[Trait("Category", "Unit")]
public sealed class RevisionHistoryCapTests
{
    [Fact]
    public void A_revision_history_entry_lists_at_most_100_changes_and_counts_the_rest()
    {
        var changes = Enumerable.Range(0, 250).Select(i => new RevisionHistory.Change("Service", "default", $"s{i}", "created")).ToList();

        var entry = RevisionHistory.Capped(7, DateTimeOffset.UtcNow, 250, changes);
        var small = RevisionHistory.Capped(8, DateTimeOffset.UtcNow, 250, changes.Take(3).ToList());

        Assert.Equal(RevisionHistory.MaxChangesShown, entry.Changes.Count);
        Assert.Equal("s0", entry.Changes[0].Name);
        Assert.Equal(150, entry.ChangesOmitted);
        Assert.Equal(3, small.Changes.Count);
        Assert.Equal(0, small.ChangesOmitted);
    }
}
