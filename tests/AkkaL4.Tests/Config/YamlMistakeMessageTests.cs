using AkkaL4.Actors.Config;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Config;

/// <summary>
/// The YAML mistakes people make by hand, as `validate` reports them: a reason a person can act on, at the line of the
/// mistake. YamlDotNet once came through as "Operation is not valid due to the current state of the object" for an
/// unclosed [ ], and a tab in the indentation of line 6 was reported at 1:1.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public class YamlMistakeMessageTests
{
    private static Messages.Model.Diagnostic OnlyError(string text) => Assert.Single(ManifestDecoder.Decode(text, "vs.yaml").Errors);

    [Fact]
    public void An_unclosed_flow_sequence_says_so_where_it_opens()
    {
        var error = OnlyError("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: s\nspec:\n  hosts: [echo\n  tcp:\n  - route:\n    - destination: {host: echo}\n");

        Assert.Equal("invalid YAML/JSON: a [ ] or { } collection that starts here is not closed (or what follows it is not YAML)", error.Message);
        Assert.Equal("vs.yaml:6:10", error.Location);
        // Named as every other error is: the resource, and the field whose value it is.
        Assert.Equal(("VirtualService/default/s", "spec.hosts"), (error.Resource, error.Field));
    }

    [Fact]
    public void A_syntax_error_in_a_list_item_names_the_items_index_on_the_way()
    {
        // user9 L2: once "spec.tcp.route.destination", whichever item it was.
        var error = OnlyError("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: echo
            spec:
              hosts: [echo]
              tcp:
              - match: [{port: 1}]
                route:
                - destination: {host: a}
              - match: [{port: 2}]
                # the second rule
                route:
                - destination: {host: a}
                  weight: 50
                - destination: {host: b
            """);

        Assert.Equal(("VirtualService/default/echo", "spec.tcp[1].route[1].destination"), (error.Resource, error.Field));
        Assert.Equal("vs.yaml:16:20", error.Location);
    }

    [Theory]
    // A block list whose items hold the error's mapping, the list indented under its key or not.
    [InlineData("spec:\n  ports:\n  - number: 80\n    name: [x\n", "spec.ports[0].name")]
    [InlineData("spec:\n  ports:\n    - number: 80\n    - number: 81\n      name: [x\n", "spec.ports[1].name")]
    [InlineData("spec:\n  hosts:\n  - a\n  tcp:\n  - route:\n    - destination: {host: a\n", "spec.tcp[0].route[0].destination")]
    public void A_list_items_index_is_counted_from_its_key(string body, string field)
    {
        var error = OnlyError("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se}\n" + body);

        Assert.Equal(("ServiceEntry/default/se", field), (error.Resource, error.Field));
    }

    [Fact]
    public void A_document_that_names_itself_after_the_mistake_is_named_by_it_and_not_by_the_next_document()
    {
        var result = ManifestDecoder.Decode("spec:\n  hosts: [echo]\n   tcp:\n  - route: []\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: late\n  namespace: web\n"
                                            + "---\napiVersion: v1\nkind: Service\nmetadata: {name: other}\nspec: {clusterIP: 10.0.0.1}\n", "vs.yaml");

        var error = Assert.Single(result.Errors);
        Assert.Equal(("VirtualService/web/late", "spec"), (error.Resource, error.Field));
        Assert.Equal("vs.yaml:3:4", error.Location);
    }

    [Fact]
    public void A_key_indented_too_far_names_its_resource_and_the_mapping_it_is_in()
    {
        var error = OnlyError("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: echo\n  namespace: web\nspec:\n  hosts: [echo]\n   tcp:\n  - route:\n    - destination: {host: echo}\n");

        Assert.Equal(("VirtualService/web/echo", "spec"), (error.Resource, error.Field));
        Assert.Equal("vs.yaml:8:4", error.Location);
        Assert.StartsWith("invalid YAML/JSON: this line is not indented like the keys around it", error.Message);
    }

    [Fact]
    public void A_field_meant_for_the_empty_key_above_it_says_to_indent_it()
    {
        var result = ManifestDecoder.Decode("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: echo}\nspec:\n  hosts: [echo]\n  tcp:\n  - route:\n    - destination:\n      host: echo\n", "vs.yaml");

        var host = Assert.Single(result.Errors, e => e.Field == "spec.tcp[0].route[0].host");
        Assert.Equal("unknown field 'host': 'destination' has no value here and takes a field of this name; indent it under destination", host.Message);
        Assert.Equal(("VirtualService/default/echo", "vs.yaml:9:7"), (host.Resource, host.Location));
    }

    [Theory]
    // Several items, and a flow mapping: the position is the bracket's, not the last node read (once the last item, or the key).
    [InlineData("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: s\nspec:\n  hosts: [a, b, c\n", "vs.yaml:6:10")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: s\n", "vs.yaml:3:11")]
    // The innermost bracket left open, after a closed one.
    [InlineData("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: s, labels: {a: b}, annotations: {c: d\n", "vs.yaml:3:50")]
    public void An_unclosed_flow_collection_is_reported_at_its_bracket(string text, string location)
    {
        var error = OnlyError(text);

        Assert.Contains("is not closed", error.Message);
        Assert.Equal(location, error.Location);
        Assert.Equal("VirtualService/default/s", error.Resource);
    }

    [Fact]
    public void A_tab_in_the_indentation_is_reported_at_its_line()
    {
        var error = OnlyError("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: tab\nspec:\n\thosts: [a]\n");

        Assert.Contains("tab", error.Message);
        Assert.Equal("vs.yaml:6:1", error.Location);
    }

    [Theory]
    // A tab inside a literal block scalar is content (legal); the mistake is the tab before "tcp" (review1-s8 #7: once 8:1).
    [InlineData("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: tab\n  annotations:\n    note: |\n      a\n      \tb\nspec:\n\thosts: [a]\n", "vs.yaml:10:1")]
    [InlineData("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: tab\n  annotations:\n    note: >-\n\n      \ta\n  labels:\n\t  app: x\n", "vs.yaml:10:1")]
    public void A_tab_after_a_block_scalar_holding_one_is_reported_at_its_own_line(string text, string location)
    {
        var error = OnlyError(text);

        Assert.Contains("tab", error.Message);
        Assert.Equal(location, error.Location);
    }

    [Fact]
    public void A_tab_in_a_later_document_is_reported_at_its_line_in_the_file()
    {
        var error = OnlyError("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {clusterIP: 10.0.0.1}\n---\nkind: Service\nmetadata:\n\tname: b\n");

        Assert.Equal("vs.yaml:8:1", error.Location);
    }
}
