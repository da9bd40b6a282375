using AkkaL4.Actors.Config;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Config;

/// <summary>
/// Rules of a VirtualService that an earlier VirtualService for the same host hides: Istio concatenates a host's tcp rules
/// in its order (exportTo, creation time, name, namespace), so a catch-all in the first makes the later ones unreachable.
/// The walkthrough's world (echo-server at 127.0.20.1:19000, its only port); configuration only, nothing bound.
/// </summary>
[Trait("Category", "Unit")]
public sealed class ShadowedRuleTests
{
    private static readonly string Seed = Repo.Path("examples", "seed");
    private static readonly string WorldPath = System.IO.Path.Combine(Seed, "world.yaml");

    private static string Vs(string name, string tcp, string meta = "", string ns = "default", string extra = "") =>
        $"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: {name}, namespace: {ns}{meta}}}\nspec:\n  hosts: [echo-server.default.svc.cluster.local]\n{extra}  tcp:\n{tcp}\n---\n";

    private const string ToEcho2 = "    route: [{destination: {host: echo-server-2.default.svc.cluster.local}}]\n";
    private const string AnyRoute = "  - route: [{destination: {host: echo-server.default.svc.cluster.local}}]\n";
    private static string Rule(string match) => $"  - match: [{match}]\n{ToEcho2}";

    private static ConfigReport Check(string manifests)
    {
        var report = ConfigCheck.Check([(WorldPath, File.ReadAllText(WorldPath)), ("test.yaml", manifests)]);
        Assert.True(report.Ok, "expected a valid configuration, got: " + string.Join("; ", report.Errors));
        return report;
    }

    private static List<Diagnostic> Shadowed(ConfigReport report) =>
        report.Warnings.Where(w => w.Message.StartsWith("this rule can never match: VirtualService", StringComparison.Ordinal)).ToList();

    [Fact]
    public void An_earlier_virtual_service_with_a_catch_all_hides_every_rule_of_a_later_one()
    {
        var report = Check(Vs("a-first", AnyRoute) + Vs("b-later", Rule("{port: 19000}") + Rule("{sourceLabels: {app: telnet-client}}")));

        var warnings = Shadowed(report);
        Assert.Equal(["spec.tcp[0]", "spec.tcp[1]"], warnings.Select(w => w.Field));
        Assert.All(warnings, w =>
        {
            Assert.Equal("VirtualService/default/b-later", w.Resource);
            Assert.Contains("VirtualService default/a-first spec.tcp[0] matches every connection to echo-server.default.svc.cluster.local", w.Message);
            Assert.Contains("neither has a creationTimestamp and its name 'a-first' sorts before 'b-later'", w.Message);
            Assert.StartsWith("test.yaml:", w.Location);
        });
        Assert.DoesNotContain(report.Warnings, w => w.Resource == "VirtualService/default/a-first");
    }

    [Fact]
    public void A_port_match_on_the_only_port_of_the_service_is_a_catch_all_for_the_later_virtual_services()
    {
        var report = Check(Vs("a-port", Rule("{port: 19000}")) + Vs("b-weight", AnyRoute));

        var warning = Assert.Single(Shadowed(report));
        Assert.Equal(("VirtualService/default/b-weight", "spec.tcp[0]"), (warning.Resource, warning.Field));
        Assert.Contains("VirtualService default/a-port spec.tcp[0]", warning.Message);
    }

    [Fact]
    public void Creation_time_comes_before_the_name()
    {
        var report = Check(Vs("a-new", AnyRoute, ", creationTimestamp: '2026-12-01T10:00:00Z'")
                           + Vs("z-old", AnyRoute, ", creationTimestamp: '2026-11-01T10:00:00Z'"));

        var warning = Assert.Single(Shadowed(report));
        Assert.Equal("VirtualService/default/a-new", warning.Resource);
        Assert.Contains("VirtualService default/z-old spec.tcp[0]", warning.Message);
        Assert.Contains("it was created earlier (2026-11-01T10:00:00Z, this one 2026-12-01T10:00:00Z)", warning.Message);
    }

    [Fact]
    public void A_subnet_containing_the_service_address_hides_later_rules_but_not_a_narrower_subnet()
    {
        var report = Check(Vs("a-subnet", Rule("{destinationSubnets: [127.0.20.0/24]}"))
                           + Vs("b-later", Rule("{destinationSubnets: [127.0.0.0/16]}") + AnyRoute + Rule("{destinationSubnets: [127.0.20.1/32]}")));
        var narrower = Check(Vs("a-subnet", Rule("{destinationSubnets: [127.0.20.0/24]}")) + Vs("b-narrower", Rule("{destinationSubnets: [127.0.20.1/32]}")));

        var warnings = Shadowed(report);
        Assert.Equal(["VirtualService/default/b-later spec.tcp[0]", "VirtualService/default/b-later spec.tcp[1]"], warnings.Select(w => $"{w.Resource} {w.Field}"));
        Assert.All(warnings, w => Assert.Contains(
            "VirtualService default/a-subnet spec.tcp[0] takes every connection to echo-server.default.svc.cluster.local at 127.0.20.1 first (its destinationSubnets 127.0.20.0/24 contain that address", w.Message));
        // After b-later's own catch-all, its narrower subnet is unreachable too: said as a rule after a catch-all of its VirtualService.
        Assert.Contains(report.Warnings, w => w is { Resource: "VirtualService/default/b-later", Field: "spec.tcp[2]" }
                                              && w.Message.Contains("spec.tcp[1] before it matches every connection"));
        Assert.Empty(Shadowed(narrower));
    }

    [Theory]
    [InlineData("{sourceLabels: {app: telnet-client}}")]      // other clients reach the later rules
    [InlineData("{sourceNamespace: foo}")]                    // clients of other namespaces do
    [InlineData("{port: 19001}")]                             // not the service's port
    [InlineData("{destinationSubnets: [10.0.0.0/8]}")]        // does not contain the service address
    [InlineData("{gateways: [istio-system/ingressgateway-1]}")] // not mesh traffic
    public void A_conditional_rule_hides_nothing(string match)
    {
        var report = Check(Vs("a-first", Rule(match)) + Vs("b-later", AnyRoute));

        Assert.Empty(Shadowed(report));
    }

    [Fact]
    public void A_virtual_service_private_to_its_namespace_hides_nothing_from_clients_of_other_namespaces()
    {
        // For clients in default, a-private comes first and takes everything; clients in foo (and unknown ones) see b-public only.
        var report = Check(Vs("a-private", AnyRoute, extra: "  exportTo: [\".\"]\n") + Vs("b-public", AnyRoute));
        Assert.Empty(Shadowed(report));

        // Private to the client's namespace comes before exported to it by name, whatever the names: only foo's clients see
        // either, and z-private comes first for them.
        var inFoo = Check(Vs("a-exported", AnyRoute, extra: "  exportTo: [foo]\n") + Vs("z-private", AnyRoute, ns: "foo", extra: "  exportTo: [\".\"]\n"));
        var warning = Assert.Single(Shadowed(inFoo));
        Assert.Equal("VirtualService/default/a-exported", warning.Resource);
        Assert.Contains("as it is private to namespace foo", warning.Message);
    }

    [Fact]
    public void The_same_virtual_service_keeps_its_own_catch_all_warning()
    {
        var report = Check(Vs("only", AnyRoute + Rule("{port: 19000}")));

        var warning = Assert.Single(report.Warnings, w => w.Resource == "VirtualService/default/only");
        Assert.Equal("spec.tcp[1]", warning.Field);
        Assert.Contains("this rule can never match: spec.tcp[0] before it matches every connection", warning.Message);
    }

    // ---- inside one VirtualService ------------------------------------------------------------

    private static List<Diagnostic> NeverUsed(ConfigReport report, string resource) =>
        report.Warnings.Where(w => w.Resource == resource && w.Message.StartsWith("this rule can never match", StringComparison.Ordinal)).ToList();

    /// <summary>The 1-based line of the <paramref name="n"/>-th (0-based) tcp rule's "- " in <paramref name="manifests"/>.</summary>
    private static int LineOfRule(string manifests, int n) =>
        manifests.Split('\n').Select((line, i) => (line, i)).Where(x => x.line.StartsWith("  - ", StringComparison.Ordinal)).ElementAt(n).i + 1;

    [Fact]
    public void A_port_match_on_the_only_port_hides_the_rules_after_it_in_the_same_virtual_service()
    {
        var manifests = Vs("only", Rule("{port: 19000}") + Rule("{sourceLabels: {app: telnet-client}}") + AnyRoute);
        var report = Check(manifests);

        var warnings = NeverUsed(report, "VirtualService/default/only");
        Assert.Equal(["spec.tcp[1]", "spec.tcp[2]"], warnings.Select(w => w.Field));
        Assert.All(warnings, w =>
        {
            Assert.Contains("this rule can never match: spec.tcp[0] before it matches every connection to echo-server.default.svc.cluster.local on port 19000 (its only port)", w.Message);
            Assert.Contains("move this rule before that one, or narrow that one's match", w.Message);
        });
        Assert.Equal([$"test.yaml:{LineOfRule(manifests, 1)}", $"test.yaml:{LineOfRule(manifests, 2)}"], warnings.Select(w => string.Join(':', w.Location!.Split(':')[..2])));
    }

    [Fact]
    public void A_port_match_on_one_of_several_ports_hides_nothing()
    {
        const string twoPorts = "apiVersion: v1\nkind: Service\nmetadata: {name: echo-two, namespace: default}\n"
                                + "spec: {clusterIP: 127.0.20.9, selector: {app: echo-server}, ports: [{name: a, port: 19000, targetPort: 9000}, {name: b, port: 19001, targetPort: 9000}]}\n---\n";
        var report = Check(twoPorts + Vs("two", Rule("{port: 19000}") + Rule("{sourceLabels: {app: telnet-client}}") + AnyRoute).Replace("hosts: [echo-server.", "hosts: [echo-two."));

        Assert.Empty(NeverUsed(report, "VirtualService/default/two"));
    }

    [Theory]
    [InlineData("{destinationSubnets: [10.0.0.0/8]}", "")]                  // not the service's address: the walk goes on
    [InlineData("{destinationSubnets: [127.0.20.0/24]}", "{destinationSubnets: [127.0.20.1/32]}")] // a narrower subnet wins over it
    [InlineData("{sourceNamespace: foo}", "")]                              // other namespaces' clients go on
    [InlineData("{port: 19000, sourceLabels: {app: telnet-client}}", "")]  // other clients go on
    public void A_conditional_or_subnet_rule_hides_nothing_in_its_own_virtual_service(string first, string second)
    {
        var report = Check(Vs("own", Rule(first) + (second.Length > 0 ? Rule(second) : AnyRoute)));

        Assert.Empty(NeverUsed(report, "VirtualService/default/own"));
    }

    [Fact]
    public void A_subnet_containing_the_address_takes_every_connection_from_a_later_catch_all_of_its_own_virtual_service()
    {
        // A block with destinationSubnets is not terminal, but its candidate wins over any terminal rule after it (only prefix
        // length beats it): the catch-all is never used for the service's only address.
        var report = Check(Vs("own", Rule("{destinationSubnets: [127.0.20.0/24]}") + AnyRoute));

        var warning = Assert.Single(NeverUsed(report, "VirtualService/default/own"));
        Assert.Equal("spec.tcp[1]", warning.Field);
        Assert.Contains("spec.tcp[0] before it takes every connection to echo-server.default.svc.cluster.local at 127.0.20.1 first (its destinationSubnets 127.0.20.0/24 contain that address", warning.Message);
    }

    // ---- gateways ----------------------------------------------------------------------------

    private const string AtGateway1 = "  gateways: [istio-system/ingressgateway-1]\n";

    [Fact]
    public void At_a_gateway_the_first_rule_matching_port_and_gateway_takes_every_connection()
    {
        // Source conditions are ignored at gateways: rule 0 matches every connection through ingressgateway-1 on 19000.
        var report = Check(Vs("gw", Rule("{port: 19000, sourceLabels: {app: telnet-client}}") + Rule("{gateways: [istio-system/ingressgateway-1]}") + AnyRoute, extra: AtGateway1));

        var warnings = NeverUsed(report, "VirtualService/default/gw");
        Assert.Equal(["spec.tcp[1]", "spec.tcp[2]"], warnings.Select(w => w.Field));
        Assert.All(warnings, w =>
        {
            Assert.Contains("this rule can never match: spec.tcp[0] before it takes every connection through gateway istio-system/ingressgateway-1 on port 19000", w.Message);
            Assert.Contains("sourceLabels, sourceNamespace and destinationSubnets are ignored there", w.Message);
            Assert.StartsWith("test.yaml:", w.Location);
        });
    }

    [Fact]
    public void At_a_gateway_the_first_virtual_service_hides_the_later_ones()
    {
        var report = Check(Vs("a-first", AnyRoute, extra: AtGateway1) + Vs("b-later", Rule("{port: 19000}"), extra: AtGateway1));

        var warning = Assert.Single(NeverUsed(report, "VirtualService/default/b-later"));
        Assert.Contains("VirtualService default/a-first spec.tcp[0] takes every connection through gateway istio-system/ingressgateway-1 on port 19000 first, "
                        + "as neither has a creationTimestamp and its name 'a-first' sorts before 'b-later'", warning.Message);
        Assert.Empty(NeverUsed(report, "VirtualService/default/a-first"));
    }

    [Theory]
    [InlineData("{port: 19001}")]                                  // not the server's port
    [InlineData("{gateways: [istio-system/ingressgateway-2]}")]    // the other gateway
    public void At_a_gateway_a_rule_for_another_port_or_gateway_hides_nothing(string match)
    {
        var report = Check(Vs("gw", Rule(match) + AnyRoute, extra: "  gateways: [istio-system/ingressgateway-1, istio-system/ingressgateway-2]\n"));

        Assert.Empty(NeverUsed(report, "VirtualService/default/gw"));
    }

    [Fact]
    public void A_rule_hidden_for_mesh_traffic_but_used_at_a_gateway_is_no_warning()
    {
        // a-mesh's catch-all comes first for mesh clients; b-both's rule still takes ingressgateway-1's connections.
        var report = Check(Vs("a-mesh", AnyRoute) + Vs("b-both", AnyRoute, extra: "  gateways: [mesh, istio-system/ingressgateway-1]\n"));

        Assert.Empty(NeverUsed(report, "VirtualService/default/b-both"));
    }

    [Fact]
    public void The_whole_seed_directory_at_once_is_said_to_shadow_itself()
    {
        // apply -f examples/seed puts every case's VirtualService on echo-server together: echo-by-port (port 19000, the
        // service's only port) sorts first by name, and every rule after it is unreachable.
        var inputs = Directory.GetFiles(Seed, "*.yaml").Order(StringComparer.Ordinal).Select(p => (p, File.ReadAllText(p))).ToList();
        var report = ConfigCheck.Check(inputs);

        Assert.True(report.Ok, string.Join("; ", report.Errors));
        var shadowed = Shadowed(report);
        Assert.Equal(
            ["VirtualService/default/echo-by-source-labels spec.tcp[0]", "VirtualService/default/echo-by-source-namespace spec.tcp[0]",
             "VirtualService/default/echo-by-source-namespace spec.tcp[1]", "VirtualService/default/echo-by-subnet spec.tcp[0]",
             "VirtualService/default/echo-by-weight spec.tcp[0]"],
            shadowed.Select(w => $"{w.Resource} {w.Field}").Order(StringComparer.Ordinal));
        Assert.All(shadowed, w => Assert.Contains("VirtualService default/echo-by-port spec.tcp[0]", w.Message));
    }

    [Fact]
    public void Each_case_of_the_walkthrough_alone_shadows_nothing()
    {
        foreach (var file in Directory.GetFiles(Seed, "0*.yaml"))
        {
            var report = ConfigCheck.Check([(WorldPath, File.ReadAllText(WorldPath)), (file, File.ReadAllText(file))]);
            Assert.True(report.Ok, string.Join("; ", report.Errors));
            Assert.Empty(report.Warnings);
        }
    }
}
