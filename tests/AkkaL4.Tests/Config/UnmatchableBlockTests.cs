using AkkaL4.Actors.Config;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Config;

/// <summary>
/// tcp match blocks no connection can satisfy (UnmatchableBlocks): for mesh traffic a port none of the VirtualService's
/// services has, a sourceNamespace no WorkloadEntry or ServiceEntry endpoint is in, sourceLabels none carries (a client has
/// a namespace and labels only through the workload at its source address); at a gateway a port no TCP server of its
/// gateways admitting the VirtualService has (source conditions are ignored there). The walkthrough's world: echo-server
/// (port 19000 only), WorkloadEntries in default and foo, ingressgateway-1/2 with TCP servers on 19000.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class UnmatchableBlockTests
{
    private static readonly string WorldPath = Repo.Path("examples", "seed", "world.yaml");

    private static string Vs(string tcp, string extra = "") =>
        $"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: vs, namespace: default}}\nspec:\n  hosts: [echo-server.default.svc.cluster.local]\n{extra}  tcp:\n{tcp}";

    private static string Rule(string match) => $"  - match: [{match}]\n    route: [{{destination: {{host: echo-server-2.default.svc.cluster.local}}}}]\n";

    private static List<Diagnostic> Unmatchable(string manifest)
    {
        var report = ConfigCheck.Check([(WorldPath, File.ReadAllText(WorldPath)), ("test.yaml", manifest)]);
        Assert.True(report.Ok, "expected a valid configuration, got: " + string.Join("; ", report.Errors));
        return report.Warnings.Where(w => w.Message.StartsWith("this block matches no connection", StringComparison.Ordinal)).ToList();
    }

    [Fact]
    public void A_port_the_service_does_not_have_never_matches_mesh_traffic()
    {
        var warning = Assert.Single(Unmatchable(Vs(Rule("{port: 19001}"))));

        Assert.Equal(("VirtualService/default/vs", "spec.tcp[0].match[0].port"), (warning.Resource, warning.Field));
        Assert.Equal("this block matches no connection: port 19001 is no port of echo-server.default.svc.cluster.local (ports: 19000), the only "
                     + "listeners where this rule is evaluated for mesh traffic, so this rule never matches", warning.Message);
        Assert.StartsWith("test.yaml:", warning.Location);
        Assert.Empty(Unmatchable(Vs(Rule("{port: 19000}"))));
    }

    [Fact]
    public void One_dead_block_of_several_is_said_to_leave_the_others()
    {
        var warning = Assert.Single(Unmatchable(Vs(Rule("{port: 19001}, {sourceLabels: {app: telnet-client}}"))));

        Assert.Equal("spec.tcp[0].match[0].port", warning.Field);
        Assert.EndsWith("; the rule's other blocks still can", warning.Message);
    }

    [Fact]
    public void A_source_namespace_with_no_workload_never_matches_and_one_with_a_workload_can()
    {
        var warning = Assert.Single(Unmatchable(Vs(Rule("{sourceNamespace: bar}"))));

        Assert.Equal("spec.tcp[0].match[0].sourceNamespace", warning.Field);
        Assert.Contains("no WorkloadEntry or ServiceEntry endpoint is in namespace bar", warning.Message);
        Assert.Contains("an unknown source has none", warning.Message);
        Assert.Empty(Unmatchable(Vs(Rule("{sourceNamespace: foo}"))));
    }

    [Fact]
    public void Source_labels_no_workload_carries_never_match_and_those_of_another_namespace_neither()
    {
        var none = Assert.Single(Unmatchable(Vs(Rule("{sourceLabels: {app: nobody}}"))));
        Assert.Equal("spec.tcp[0].match[0].sourceLabels", none.Field);
        Assert.Contains("no WorkloadEntry or ServiceEntry endpoint carries app=nobody", none.Message);

        // telnet-client-foo is in foo, not default.
        var elsewhere = Assert.Single(Unmatchable(Vs(Rule("{sourceNamespace: default, sourceLabels: {app: telnet-client-foo}}"))));
        Assert.Equal("spec.tcp[0].match[0].sourceLabels", elsewhere.Field);
        Assert.Contains("in namespace default carries app=telnet-client-foo", elsewhere.Message);

        Assert.Empty(Unmatchable(Vs(Rule("{sourceNamespace: foo, sourceLabels: {app: telnet-client-foo}}"))));
    }

    [Fact]
    public void At_a_gateway_only_the_port_of_its_servers_counts()
    {
        const string gateway = "  gateways: [istio-system/ingressgateway-1]\n";
        // Source conditions are ignored at gateways: the block still matches there.
        Assert.Empty(Unmatchable(Vs(Rule("{sourceLabels: {app: nobody}}"), gateway)));

        var warning = Assert.Single(Unmatchable(Vs(Rule("{port: 19001}"), gateway)));
        Assert.Equal("spec.tcp[0].match[0].port", warning.Field);
        Assert.Contains("port 19001 is the port of no TCP server of gateway istio-system/ingressgateway-1 that admits this VirtualService's hosts "
                        + "(those are on port 19000)", warning.Message);

        // Bound to mesh and a gateway: dead for mesh (no such port) and at the gateway (nor there): both said, at the block.
        var both = Assert.Single(Unmatchable(Vs(Rule("{port: 19001, sourceNamespace: bar}"), "  gateways: [mesh, istio-system/ingressgateway-1]\n")));
        Assert.Equal("spec.tcp[0].match[0]", both.Field);
        Assert.Contains("sourceNamespace: no WorkloadEntry", both.Message);
        Assert.Contains("port: port 19001 is the port of no TCP server of gateway istio-system/ingressgateway-1", both.Message);
    }

    [Fact]
    public void A_host_without_a_service_is_left_to_its_own_warning()
    {
        var manifest = Vs(Rule("{port: 19001}")).Replace("hosts: [echo-server.default.svc.cluster.local]", "hosts: [nowhere.default.svc.cluster.local]");
        Assert.Empty(Unmatchable(manifest));
    }
}
