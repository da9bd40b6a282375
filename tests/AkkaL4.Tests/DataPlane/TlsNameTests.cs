using AkkaL4.Actors.DataPlane;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane;

/// <summary>TLS origination's subjectAltNames check: a certificate's wildcard stands for one left-most label only (RFC 6125, as Envoy).</summary>
[Trait("Category", "Unit")]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class TlsNameTests
{
    [Theory]
    [InlineData("echo.example.com", "echo.example.com", true)]
    [InlineData("ECHO.Example.com", "echo.example.COM", true)]
    [InlineData("*.example.com", "echo.example.com", true)]
    [InlineData("*.example.com", "a.b.example.com", false)]
    [InlineData("*.example.com", "example.com", false)]
    [InlineData("*.example.com", ".example.com", false)]
    [InlineData("*", "echo.example.com", false)]
    [InlineData("*.", "echo.", false)]
    [InlineData("echo.example.com", "*.example.com", false)]
    [InlineData("10.0.0.1", "10.0.0.1", true)]
    [InlineData("other.example.com", "echo.example.com", false)]
    public void A_certificate_name_covers_a_wanted_name(string name, string wanted, bool covers) =>
        Assert.Equal(covers, TlsOrigination.SanMatches(name, wanted));
}
