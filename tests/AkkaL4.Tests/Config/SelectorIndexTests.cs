using AkkaL4.Actors.Config.Analysis;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Config;

/// <summary>
/// <see cref="SelectorIndex"/> answers what comparing every pair of Gateway selectors answers: which are within a selector
/// (every node serving it serves them) and which may share a node with it (no label key on which they differ), whichever way
/// it looks for key sets (one by one, or each subset of the asked selector's keys when there are more key sets than that).
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class SelectorIndexTests
{
    private static readonly Labels[] Selectors =
    [
        Labels.Empty,
        Labels.Of(("istio", "ingress")),
        Labels.Of(("istio", "egress")),
        Labels.Of(("istio", "ingress"), ("tenant", "a")),
        Labels.Of(("istio", "ingress"), ("tenant", "b")),
        Labels.Of(("tenant", "a")),
        Labels.Of(("zone", "x")),
        Labels.Of(("zone", "x"), ("tenant", "a"), ("istio", "ingress")),
        Labels.Of(("k1", "v")), Labels.Of(("k2", "v")), Labels.Of(("k3", "v")), Labels.Of(("k4", "v")), Labels.Of(("k5", "v")),
        Labels.Of(("k1", "v"), ("k2", "v")),
        Labels.Of(("k1", "w"), ("k2", "v")),
    ];

    private static bool Compatible(Labels a, Labels b) => a.All(l => !b.TryGetValue(l.Key, out var v) || v == l.Value);

    [Fact]
    public void Within_and_compatible_are_what_comparing_every_pair_finds()
    {
        var index = new SelectorIndex();
        foreach (var s in Selectors.Concat(Selectors)) index.Add(s);
        Assert.Equal(Selectors.Length, index.Selectors.Count);

        Labels[] questions = [.. Selectors, Labels.Of(("istio", "ingress"), ("tenant", "a"), ("zone", "y")), Labels.Of(("other", "1")),
            Labels.Of(("k1", "v"), ("k2", "v"), ("k3", "v"), ("k4", "v"), ("k5", "v"))];
        foreach (var q in questions)
        {
            Assert.Equal(Enumerable.Range(0, Selectors.Length).Where(i => Selectors[i].IsSubsetOf(q)), index.Within(q));
            var compatible = Enumerable.Range(0, Selectors.Length).Where(i => Compatible(Selectors[i], q)).ToList();
            Assert.Equal(compatible.Take(3), index.Compatible(q, 3));
            Assert.Equal(compatible, index.Compatible(q, int.MaxValue));
        }
    }
}
