using AkkaL4.Actors.Config.Analysis;
using AkkaL4.Actors.Routing;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.Routing;

/// <summary>
/// sec17: two workloads at one client address (one written IPv4-mapped, which is the same address). Which one a
/// connection from it is identified as followed the order the resources were listed in, which a node's copy and the
/// writer's need not share; now it is the order of kind, namespace and name, and the analyser names the one left out.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class ClientAddressClaimTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(186);

    [Fact]
    public void A_shared_client_address_is_one_workloads_whatever_the_order_and_the_other_is_warned_about()
    {
        var address = Block.Host(9, 5);
        var resources = Resources(
            WorkloadEntry("db", address, "{app: db}", ns: "prod"),
            WorkloadEntry("claim", $"::ffff:{address}", "{app: admin}", ns: "aaa"));

        foreach (var order in new[] { resources, resources.Reverse().ToList() })
        {
            var client = new ServiceCatalog(order).Identify(IpKey.Parse(address));
            Assert.Equal(("aaa", "claim"), (client.Namespace, client.Name));
        }
        var warning = Assert.Single(ConfigAnalyzer.Analyze(resources), w => w.Message.Contains("is also"));
        Assert.Equal(("WorkloadEntry/prod/db", "spec.address"), (warning.Resource, warning.Field));
        Assert.Contains($"address {address} is also aaa/claim's, and connections from {address} are identified as that workload", warning.Message);
        // The same labels and namespace under two names decide nothing: no warning.
        Assert.DoesNotContain(ConfigAnalyzer.Analyze(Resources(
            WorkloadEntry("a", address, "{app: db}", ns: "prod"), WorkloadEntry("b", address, "{app: db}", ns: "prod"))), w => w.Message.Contains("is also"));
    }
}
