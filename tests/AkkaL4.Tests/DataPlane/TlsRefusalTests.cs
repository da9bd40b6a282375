using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// Why TLS origination refuses an upstream's certificate, as the access log and /v1/status say it. .NET's handshake
/// exception says only "rejected by the provided RemoteCertificateValidationCallback", which names no cause; each case
/// here is a real certificate (another CA's, expired, for another name). Without subjectAltNames and sni the certificate
/// must still be for the name sent as SNI, the destination host, as Istio since 1.20 (sec13 #2: before, any trusted
/// certificate for any name was accepted). The end-to-end path is TlsRoutingTests' subjectAltName case.
/// </summary>
[Trait("Category", TestCategories.Unit)]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public sealed class TlsRefusalTests : IDisposable
{
    private readonly TestCa _ca = new("refusal-ca");
    private readonly TestCa _other = new("other-ca");

    private UpstreamTls Simple(string? sni = null, params string[] subjectAltNames) =>
        new("SIMPLE", _ca.CaFile, null, null, sni, Seq.Of(subjectAltNames), false) { Rules = "DestinationRule/default/origin" };

    /// <summary>A SIMPLE rule naming neither sni nor subjectAltNames: the destination host is the name.</summary>
    private static UpstreamTls ForHost(string? ca, bool skip = false) =>
        new("SIMPLE", ca, null, null, null, Seq<string>.Empty, skip) { Rules = "DestinationRule/default/api" };

    private X509Certificate2Collection Authorities => [X509CertificateLoader.LoadCertificate(_ca.Certificate.RawData)];

    [Fact]
    public void A_certificate_of_another_CA_is_refused_naming_its_issuer_and_the_CA_file()
    {
        using var server = _other.Issue("upstream", "a.example.com");

        var why = TlsOrigination.Refusal(Simple(), Authorities, server, null, SslPolicyErrors.RemoteCertificateChainErrors);

        Assert.Equal($"its certificate (CN=upstream), issued by CN=other-ca, does not chain to tls.caCertificates {_ca.CaFile} (DestinationRule/default/origin)", why);
    }

    [Fact]
    public void An_expired_certificate_is_refused_saying_when_it_expired()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=old", key, HashAlgorithmName.SHA256);
        var notAfter = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        using var expired = request.CreateSelfSigned(notAfter.AddDays(-30), notAfter);

        var why = TlsOrigination.Refusal(Simple(), Authorities, expired, null, SslPolicyErrors.RemoteCertificateChainErrors);

        Assert.Equal("its certificate (CN=old) expired on 2026-01-02 03:04:05Z", why);
    }

    [Fact]
    public void A_certificate_for_other_names_is_refused_naming_both()
    {
        using var server = _ca.Issue("upstream", "b.example.com");

        Assert.Null(TlsOrigination.Refusal(Simple(null, "b.example.com"), Authorities, server, null, SslPolicyErrors.None));
        Assert.Equal("its certificate (CN=upstream) carries none of tls.subjectAltNames [a.example.com, c.example.com] (it names [b.example.com]; DestinationRule/default/origin)",
            TlsOrigination.Refusal(Simple(null, "a.example.com", "c.example.com"), Authorities, server, null, SslPolicyErrors.None));
        // Without subjectAltNames the sni is the name, as .NET checked it against TargetHost.
        Assert.Equal("its certificate (CN=upstream) is not for 'a.example.com' (tls.sni of DestinationRule/default/origin)",
            TlsOrigination.Refusal(Simple("a.example.com"), Authorities, server, null, SslPolicyErrors.RemoteCertificateNameMismatch));
    }

    [Fact]
    public void A_system_trusted_certificate_for_another_name_is_refused_naming_both()
    {
        // What .NET reports for a chain the system store trusts and a certificate for a name other than TargetHost.
        using var attacker = _ca.Issue("attacker", "attacker.example");

        Assert.Equal("its certificate (CN=attacker) is not for 'api.example.com' (the destination host of DestinationRule/default/api; "
            + "give tls.subjectAltNames or tls.sni to name another)",
            TlsOrigination.Refusal(ForHost(null), null, attacker, null, SslPolicyErrors.RemoteCertificateNameMismatch, "api.example.com"));
        Assert.Null(TlsOrigination.Refusal(ForHost(null, skip: true), null, attacker, null, SslPolicyErrors.RemoteCertificateNameMismatch, "api.example.com"));
    }

    [Fact]
    public void A_certificate_of_the_named_CA_for_another_name_is_refused_and_one_for_the_host_accepted()
    {
        using var other = _ca.Issue("other-service", "other.internal");
        using var right = _ca.Issue("api", "api.internal");

        Assert.NotNull(TlsOrigination.Refusal(ForHost(_ca.CaFile), Authorities, other, null, SslPolicyErrors.RemoteCertificateNameMismatch, "api.internal"));
        Assert.Null(TlsOrigination.Refusal(ForHost(_ca.CaFile), Authorities, right, null, SslPolicyErrors.None, "api.internal"));
    }

    public void Dispose()
    {
        _ca.Dispose();
        _other.Dispose();
    }
}
