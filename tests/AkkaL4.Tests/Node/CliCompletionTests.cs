using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Node;

/// <summary>
/// Shell completion as README shows it: System.CommandLine's [suggest] directive, which dotnet-suggest's shim calls on
/// Tab. A kind argument offers the kinds, short names and plurals (it once offered nothing, so README's own example
/// printed an empty line).
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", TestCategories.EndToEnd)]
public class CliCompletionTests
{
    [Fact]
    public async Task Get_and_delete_complete_resource_kinds()
    {
        var get = await Akkal4Process.RunAsync(["[suggest:5]", "get v"]);
        Assert.Equal(0, get.ExitCode);
        Assert.Contains("VirtualService", get.Lines);
        Assert.Contains("vs", get.Lines);
        Assert.Contains("virtualservices", get.Lines);

        var delete = await Akkal4Process.RunAsync(["[suggest:8]", "delete d"]);
        Assert.Contains("DestinationRule", delete.Lines);
        Assert.Contains("dr", delete.Lines);
        Assert.DoesNotContain("all", delete.Lines);
    }
}
