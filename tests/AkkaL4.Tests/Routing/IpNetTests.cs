using Akka.Configuration;
using AkkaL4.Actors;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;

namespace AkkaL4.Tests.Routing;

/// <summary>The CIDR parser behind destinationSubnets and the PROXY-protocol trusted sources: canonical text only.</summary>
[Trait("Category", "Unit")]
public sealed class IpNetTests
{
    [Theory]
    [InlineData("10.0.5.0/24", "10.0.5.0/24")]
    [InlineData("10.0.5.7/24", "10.0.5.0/24")]
    [InlineData("0.0.0.0/0", "0.0.0.0/0")]
    [InlineData("1.2.3.4", "1.2.3.4/32")]
    [InlineData("2001:db8::/64", "2001:db8::/64")]
    [InlineData("::ffff:10.0.5.9", "10.0.5.9/32")]
    [InlineData("::/0", "::/0")]
    public void Canonical_text_is_accepted(string text, string parsed)
    {
        Assert.True(IpNet.TryParse(text, out var net));
        Assert.Equal(parsed, net.ToString());
    }

    [Theory]
    [InlineData("10.0.5/24")]          // inet_aton shorthand: 10.0.0.5
    [InlineData("10.5")]
    [InlineData("1.2.3")]              // Istio rejects it (istio-l4-semantics case 4)
    [InlineData("010.1.5.0/24")]       // a leading zero: octal 8.1.5.0 for inet_aton
    [InlineData("010.001.005.000/24")]
    [InlineData("0x0a.0.0.1")]
    [InlineData("167772161")]
    [InlineData("fe80::1%eth0")]       // a zone names no network
    [InlineData("fe80::1%eth0/64")]
    [InlineData("[::1]")]
    [InlineData("::ffff:10.5/120")]
    [InlineData("10.0.0.0/+8")]
    [InlineData("10.0.0.0/33")]
    [InlineData("10.0.0.256")]
    public void Shorthand_octal_hex_and_zoned_forms_are_refused(string text)
    {
        Assert.False(IpNet.TryParse(text, out _));
        Assert.Contains($"'{text}' is not a CIDR or IP address", IpNet.Refusal(text));
    }

    [Fact]
    public void A_non_canonical_trusted_source_is_refused_at_start_with_the_setting_and_the_entry()
    {
        var bad = Assert.Throws<ConfigurationException>(() => DataPlaneSettings.From(RouterNode.Layered(
            ["akkal4.data-plane.proxy-protocol-trusted-sources = [\"10.1.0.0/16\", \"10.0.5/24\"]"])));
        Assert.Contains($"{DataPlaneSettings.TrustedSourcesKey}: '10.0.5/24' is not a CIDR", bad.Message);
    }
}
