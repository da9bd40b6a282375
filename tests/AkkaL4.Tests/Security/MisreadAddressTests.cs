using AkkaL4.Actors.Config.Validation;
using AkkaL4.Actors.Routing;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.Security;

/// <summary>
/// sec18: address text a person reads as one IP and .NET's parser (like inet_aton) as another. What each form reads as,
/// what the config writer refuses in a write (resource, field, the address it would use, what to write), what validation
/// warns about (it also reads stored configurations, which must keep loading), and the parsers of addresses given on the
/// command line and in query strings. No sockets: the writer and node tests are MisreadAddressWriterTests and others.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class MisreadAddressTests
{
    [Theory]
    [InlineData("127.0.20.010", "127.0.20.8", "a leading zero makes a number octal", "127.0.20.10")]
    [InlineData("010.1.5.0", "8.1.5.0", "a leading zero makes a number octal", "10.1.5.0")]
    [InlineData("127.0.0.00", "127.0.0.0", "a leading zero makes a number octal", null)]
    [InlineData("0x7f000001", "127.0.0.1", "0x makes a number hexadecimal", null)]
    [InlineData("0x7f.0.0.1", "127.0.0.1", "0x makes a number hexadecimal", null)]
    [InlineData("127.1", "127.0.0.1", "fewer than four numbers", null)]
    [InlineData("2130706433", "127.0.0.1", "fewer than four numbers", null)]
    [InlineData("[::1]", "::1", "an IPv6 address with a zone, brackets", null)]
    // .NET reads an IPv4 part inside IPv6 in decimal, unlike a bare one; Istio refuses the leading zero all the same.
    [InlineData("::ffff:127.0.0.010", "127.0.0.10", "an IPv6 address with a zone, brackets or an IPv4 part", null)]
    public void Text_the_parser_reads_as_another_address_says_which_and_why(string text, string readAs, string why, string? padded)
    {
        var misread = AddressText.Of(text);
        Assert.NotNull(misread);
        Assert.Equal(readAs, misread.ReadAs.ToString());
        Assert.StartsWith(why, misread.Why);
        Assert.Equal(padded, misread.Padded);
    }

    [Theory]
    [InlineData("127.0.20.10")]
    [InlineData("10.0.0.0")]
    [InlineData("::1")]
    [InlineData("2001:db8::8")]
    [InlineData("::ffff:10.0.0.1")]
    [InlineData("echo.example.com")]
    [InlineData("None")]
    [InlineData("")]
    [InlineData(null)]
    public void Canonical_IPs_and_host_names_are_read_as_written(string? text) => Assert.Null(AddressText.Of(text));

    private static IReadOnlyList<Messages.Model.Resource> Misread() => Decode(
        Service("web", "default", "127.188.1.010"),
        Workload("web-1", "default", "127.188.1.020", "web"),
        Workload("web-2", "default", "0x7fbc0111", "web"),
        Manifests.Gateway("gw", "default", """
            selector: {istio: ingressgateway}
            servers:
            - port: {number: 19001, name: tcp, protocol: TCP}
              bind: 127.188.1.1
              hosts: ['*']
            - port: {number: 19002, name: tcp-2, protocol: TCP}
              bind: 127.188.1.01
              hosts: ['*']
            """),
        """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: external, namespace: default}
        spec:
          hosts: [external.example.com]
          addresses: [127.188.1.30, 127.188.1.031, 010.188.0.0/16]
          ports: [{number: 19003, name: tcp, protocol: TCP}]
          resolution: STATIC
          endpoints: [{address: 127.188.1.32}, {address: 127.188.1.033}]
        """);

    [Fact]
    public void The_writer_refuses_each_misread_address_a_write_brings_naming_the_field_the_address_used_and_what_to_write()
    {
        var errors = MisreadAddresses.InWrite(Misread()).Select(d => $"{d.Resource}  {d.Field}  {d.Message}").ToList();
        Assert.Equal(7, errors.Count);
        Assert.Contains("Service/default/web  spec.clusterIP  '127.188.1.010' reads as 127.188.1.8 to the node's parser (a leading zero makes a number "
                        + "octal, as inet_aton reads it): the node would listen on 127.188.1.8, not the address a person reads; write 127.188.1.8, "
                        + "or 127.188.1.10 if the zeros are padding", errors);
        Assert.Contains(errors, e => e.StartsWith("WorkloadEntry/default/web-1  spec.address  '127.188.1.020' reads as 127.188.1.16")
                                     && e.Contains("the node would dial 127.188.1.16"));
        Assert.Contains(errors, e => e.StartsWith("WorkloadEntry/default/web-2  spec.address  '0x7fbc0111' reads as 127.188.1.17")
                                     && e.Contains("0x makes a number hexadecimal") && e.EndsWith("the node would dial 127.188.1.17, not the address a person reads; write 127.188.1.17"));
        Assert.Contains(errors, e => e.StartsWith("Gateway/default/gw  spec.servers[1].bind  '127.188.1.01' reads as 127.188.1.1")
                                     && e.EndsWith("listen on 127.188.1.1, not the address a person reads; write 127.188.1.1"));
        Assert.Contains(errors, e => e.StartsWith("ServiceEntry/default/external  spec.addresses[1]  '127.188.1.031' reads as 127.188.1.25")
                                     && e.Contains("listen on 127.188.1.25"));
        Assert.Contains(errors, e => e.StartsWith("ServiceEntry/default/external  spec.addresses[2]  '010.188.0.0/16' reads as 8.188.0.0/16")
                                     && e.EndsWith("write 8.188.0.0/16, or 10.188.0.0/16 if the zeros are padding"));
        Assert.Contains(errors, e => e.StartsWith("ServiceEntry/default/external  spec.endpoints[1].address  '127.188.1.033' reads as 127.188.1.27")
                                     && e.Contains("dial 127.188.1.27"));
    }

    [Fact]
    public void Validation_warns_about_each_of_them_and_errs_on_none()
    {
        var diagnostics = ConfigValidator.Validate(Misread());
        Assert.DoesNotContain(diagnostics, d => d.Severity == Messages.Model.Severity.Error);
        var warned = diagnostics.Where(d => d.Message.Contains("the config writer refuses it in a write")).Select(d => $"{d.Resource} {d.Field}").Order().ToList();
        Assert.Equal(
        [
            "Gateway/default/gw spec.servers[1].bind",
            "Service/default/web spec.clusterIP",
            "ServiceEntry/default/external spec.addresses[1]",
            "ServiceEntry/default/external spec.addresses[2]",
            "ServiceEntry/default/external spec.endpoints[1].address",
            "WorkloadEntry/default/web-1 spec.address",
            "WorkloadEntry/default/web-2 spec.address",
        ], warned);
    }

    [Fact]
    public void A_write_of_canonical_addresses_and_host_names_is_not_refused()
    {
        var resources = Decode(
            Service("web", "default", "127.188.1.10"),
            Workload("web-1", "default", "127.188.1.16", "web"),
            Workload("web-2", "default", "web-2.example.com", "web"),
            Manifests.Service("headless", "None"));
        Assert.Empty(MisreadAddresses.InWrite(resources));
    }

    [Fact]
    public void A_destination_subnet_the_parser_reads_as_another_is_refused_by_the_compiler_saying_what_it_reads_as()
    {
        var errors = RouteCompiler.Check(Decode(
            Service("web", "default", "127.188.1.10"),
            Workload("web-1", "default", "127.188.1.16", "web"),
            Manifests.VirtualService("web", "default", """
                hosts: [web]
                tcp:
                - match: [{destinationSubnets: [127.188.1.010/32]}]
                  route: [{destination: {host: web}}]
                """)));
        var error = Assert.Single(errors);
        Assert.Equal("spec.tcp[0].match[0].destinationSubnets[0]", error.Field);
        Assert.StartsWith("'127.188.1.010/32' is not a CIDR or IP address (IPv4 as four decimal octets without leading zeros, IPv6 without a zone): "
                          + "it reads as 127.188.1.8/32 to .NET's parser (a leading zero makes a number octal)", error.Message);
        Assert.EndsWith("write 127.188.1.8/32, or 127.188.1.10/32 if the zeros are padding", error.Message);
    }

    [Theory]
    [InlineData("127.188.1.010:19000", "127.188.1.10:19000", true)]
    [InlineData("0x7fbc0101:19000", "127.188.1.1:19000", true)]
    [InlineData("127.1", "127.0.0.1", false)]
    [InlineData("[::ffff:127.188.1.010]:19000", "[::ffff:127.188.1.10]:19000", true)]
    public void Addresses_on_the_command_line_and_in_query_strings_are_taken_as_written_or_not_at_all(string text, string canonical, bool portRequired)
    {
        Assert.False(IpPort.TryParse(text, portRequired, out _));
        Assert.True(IpPort.TryParse(canonical, portRequired, out _));
    }
}
