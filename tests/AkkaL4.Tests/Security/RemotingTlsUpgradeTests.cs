using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AkkaL4.Actors;
using AkkaL4.Node.Cli;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.Security.SecurityKit;

namespace AkkaL4.Tests.Security;

/// <summary>
/// A rolling upgrade from a version whose <c>cert create</c> did not set AkkaL4's member usage (before a49dc23;
/// review1-s14 R1): a <c>ca.p12</c> shared as every node's certificate still loads and is admitted (it is the trust
/// anchor itself), per-node certificates of the kept CA work both ways, and a certificate the same CA signed for
/// another purpose is still refused. No sockets.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class RemotingTlsUpgradeTests
{
    /// <summary>The CA an earlier <c>cert create</c> made (git show 22419f4:src/Node/Cli/CertCommand.cs): serverAuth + clientAuth, no member usage.</summary>
    internal static X509Certificate2 OldCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name} CA", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    /// <summary>A certificate (with its key) <paramref name="ca"/> signs for an HTTPS server: serverAuth and clientAuth, no member usage.</summary>
    internal static X509Certificate2 Https(X509Certificate2 ca, string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var signed = request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-5), ca.NotAfter, RandomNumberGenerator.GetBytes(16));
        return signed.CopyWithPrivateKey(key);
    }

    /// <summary><paramref name="certificates"/> as a PKCS#12 file, loaded as a node's <c>--tls-cert</c>.</summary>
    internal static RemotingTls Loaded(X509Certificate2Collection certificates)
    {
        var path = Path.Combine(Path.GetTempPath(), $"akkal4-upgrade-{Guid.NewGuid():N}.p12");
        File.WriteAllBytes(path, certificates.Export(X509ContentType.Pkcs12, Password)!);
        try { return RemotingTls.Load(path, Password); }
        finally { File.Delete(path); }
    }

    [Fact]
    public void A_shared_ca_p12_of_an_earlier_version_loads_and_is_admitted_by_nodes_on_it_and_on_certificates_of_it()
    {
        var old = OldCa("shared");
        Assert.False(RemotingTls.IsNodeCertificate(old));
        var shared = Loaded([old]);
        Assert.Equal(old.RawData, shared.Certificate.RawData);
        Assert.True(shared.Trusts(old, null), "a node on the shared ca.p12 refuses a peer on the same ca.p12");

        // Moving to per-node certificates of the kept CA: each side admits the other.
        var node = Loaded(CertCommand.NodeCertificate(old, "n1", 1));
        Assert.True(node.Trusts(X509CertificateLoader.LoadCertificate(old.RawData), null), "a node certificate of the CA refuses a peer on the CA itself");
        Assert.True(shared.Trusts(node.Certificate, null), "the shared ca.p12 refuses a node certificate it signed");
    }

    [Fact]
    public void A_certificate_of_the_same_CA_for_another_purpose_is_still_refused_and_does_not_load()
    {
        var old = OldCa("shared");
        using var https = Https(old, "admin.example");
        Assert.True(RemotingTls.ChainsTo(https, null, [old]), "it chains to the CA: the refusals below are about its purpose");
        Assert.False(Loaded([old]).Trusts(https, null), "the shared ca.p12 admits an HTTPS certificate of its CA");
        Assert.False(Loaded(CertCommand.NodeCertificate(old, "n1", 1)).Trusts(https, null), "a node certificate admits an HTTPS certificate of its CA");

        // As a node's own certificate, with its CA after it (not itself an anchor): refused at start.
        var refused = Assert.Throws<InvalidDataException>(() => Loaded([https, X509CertificateLoader.LoadCertificate(old.RawData)]));
        Assert.Contains(RemotingTls.NodeUsageMissing, refused.Message);
        Assert.DoesNotContain("made again", refused.Message);
        Assert.Contains("keep that CA", refused.Message);
    }

    /// <summary>A certificate byte-equal to another CA's is no anchor of this cluster: only the anchors' own bytes count.</summary>
    [Fact]
    public void Another_CA_presented_as_itself_is_refused()
    {
        var shared = Loaded([OldCa("shared")]);
        Assert.False(shared.Trusts(OldCa("other"), null));
        Assert.False(Loaded(CertCommand.NodeCertificate(OldCa("kept"), "n1", 1)).Trusts(OldCa("kept"), null), "a CA of the same name but another key is admitted");
    }
}
