using System.Text.Json;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Node;

/// <summary>
/// The runtime settings a node ships with, as the build writes them into <c>akkal4.runtimeconfig.json</c> (the node's csproj
/// says why each is chosen; bench/README.md has the measurements): a change of one of them is a change of what every node
/// costs, so it shows here rather than only in a benchmark.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class RuntimeSettingsTests
{
    public static TheoryData<string, string> Settings => new()
    {
        { "System.GC.Server", "false" },
        { "System.GC.Concurrent", "true" },
        // Session 32: on two cores the profiling tier cost ~1.4 KB per idle connection and bought no measured speed.
        { "System.Runtime.TieredPGO", "false" },
        { "System.GC.Gen0MaxBudget", "16777216" },
        { "System.Threading.ThreadPool.MinThreads", "8" },
        { "System.Threading.ThreadPool.UnfairSemaphoreSpinLimit", "0" },
    };

    [Theory]
    [MemberData(nameof(Settings))]
    public void The_node_ships_with_its_chosen_runtime_setting(string name, string expected)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "akkal4.runtimeconfig.json");
        Assert.True(File.Exists(path), $"{path} is not beside the tests (the node project is referenced)");
        using var config = JsonDocument.Parse(File.ReadAllText(path));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.True(properties.TryGetProperty(name, out var value), $"{name} is not in akkal4.runtimeconfig.json");
        Assert.Equal(expected, value.ToString().ToLowerInvariant());
    }
}
