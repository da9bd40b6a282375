using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// sec13 #2: without subjectAltNames and sni, the upstream's certificate must still be for the name sent as SNI (the
/// destination host), as Istio since 1.20; before, any trusted certificate for any name was accepted.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class TlsHostNameTests : IDisposable
{
    private readonly TestCa _ca = new("akkal4 host-name CA");

    private static UpstreamTls Simple(string? ca, bool skip = false) =>
        new("SIMPLE", ca, null, null, null, Seq<string>.Empty, skip) { Rules = "DestinationRule/default/api" };

    [Fact]
    public void A_system_trusted_certificate_for_another_name_is_refused_naming_both()
    {
        // What .NET reports for a chain the system store trusts and a certificate for a name other than TargetHost.
        using var attacker = _ca.Issue("attacker", "attacker.example");

        Assert.Equal("its certificate (CN=attacker) is not for 'api.example.com' (the destination host of DestinationRule/default/api; "
            + "give tls.subjectAltNames or tls.sni to name another)",
            TlsOrigination.Refusal(Simple(null), null, attacker, null, SslPolicyErrors.RemoteCertificateNameMismatch, "api.example.com"));
        Assert.Null(TlsOrigination.Refusal(Simple(null, skip: true), null, attacker, null, SslPolicyErrors.RemoteCertificateNameMismatch, "api.example.com"));
    }

    [Fact]
    public void A_certificate_of_the_named_CA_for_another_name_is_refused_and_one_for_the_host_accepted()
    {
        using var other = _ca.Issue("other-service", "other.internal");
        using var right = _ca.Issue("api", "api.internal");
        X509Certificate2Collection authorities = [X509CertificateLoader.LoadCertificate(_ca.Certificate.RawData)];

        Assert.NotNull(TlsOrigination.Refusal(Simple(_ca.CaFile), authorities, other, null, SslPolicyErrors.RemoteCertificateNameMismatch, "api.internal"));
        Assert.Null(TlsOrigination.Refusal(Simple(_ca.CaFile), authorities, right, null, SslPolicyErrors.None, "api.internal"));
    }

    public void Dispose() => _ca.Dispose();
}
