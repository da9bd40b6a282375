using System.Text.RegularExpressions;

namespace AkkaL4.Tests.Support;

[Trait("Category", "Unit")]
public sealed partial class AddressBlockTests
{
    [GeneratedRegex(@"\b127\.(\d{1,3})\.(?:\d|\{)")]
    private static partial Regex Loopback();

    [Fact]
    public void Every_127_block_a_test_or_benchmark_names_has_an_owner_in_the_table()
    {
        var sources = new[] { "tests", "bench" }
            .SelectMany(d => Directory.EnumerateFiles(Repo.Path(d), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .ToList();
        Assert.NotEmpty(sources);
        var owned = AddressBlocks.All.Select(b => b.Second).ToHashSet();
        var strays = sources
            .SelectMany(f => Loopback().Matches(File.ReadAllText(f)).Select(m => (File: Path.GetRelativePath(Repo.Root, f), Block: int.Parse(m.Groups[1].Value))))
            .Where(x => !owned.Contains(x.Block))
            .Select(x => $"{x.File}: 127.{x.Block}.x.x")
            .Distinct()
            .ToList();
        Assert.True(strays.Count == 0, $"addresses in blocks without an owner (add a row to Support/AddressBlocks.cs):\n{string.Join("\n", strays)}");
    }

    [Fact]
    public void A_block_hands_out_addresses_inside_itself_only()
    {
        var kit = AddressBlocks.Of(170);
        Assert.Equal("127.170.2.9", kit.Host(2, 9));
        Assert.Equal("127.170.0.1:19000", kit.At(0, 1, 19000).ToString());
        Assert.Throws<ArgumentOutOfRangeException>(() => kit.Host(256, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => kit.Host(1, 255));
        // A block nobody has claimed yet (a fixed number here was claimed by a later row, and this failed).
        var unowned = Enumerable.Range(0, 256).First(n => AddressBlocks.All.All(b => b.Second != n));
        Assert.Throws<ArgumentException>(() => AddressBlocks.Of(unowned));
        Assert.Equal(AddressBlocks.All.Count, AddressBlocks.All.Select(b => b.Second).Distinct().Count());
    }
}
