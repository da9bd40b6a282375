using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane;

/// <summary>The detail of a connection refused for want of an SNI names the connection's own flag (review1-s8 #6).</summary>
[Trait("Category", TestCategories.Unit)]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class NoSniDetailTests
{
    private const string Reason = "no tls rule of a VirtualService bound to istio-system/edge matches port 443 and the SNI: the connection is closed" + Explanation.NoRouteFlag;

    [Fact]
    public void The_no_route_reason_names_the_flag_of_the_line_or_none()
    {
        Assert.EndsWith("the connection is closed (NR)", ConnectionActor.NoSniDetail(ResponseFlags.NotTls, "not TLS: x", Reason));
        Assert.Equal("malformed ClientHello: x; no tls rule of a VirtualService bound to istio-system/edge matches port 443 and the SNI: the connection is closed (DPE)",
            ConnectionActor.NoSniDetail(ResponseFlags.MalformedClientHello, "malformed ClientHello: x", Reason));
        var timedOut = ConnectionActor.NoSniDetail(ResponseFlags.PreambleTimeout, "no ClientHello within 00:00:05", Reason);
        Assert.EndsWith("the connection is closed", timedOut);
        Assert.DoesNotContain("(NR)", timedOut);
    }
}
