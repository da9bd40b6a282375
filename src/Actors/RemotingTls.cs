using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;

namespace AkkaL4.Actors;

/// <summary>
/// Mutual TLS for cluster remoting. One PKCS#12 file holds this node's certificate with its private
/// key and, after it, the certificates of the cluster's CA: a peer is admitted when its certificate
/// chains to one of those (or, in a file with no CA, is this very certificate: a cluster sharing one
/// self-signed certificate) and was made for cluster membership: it carries <see cref="NodeUsage"/> among its extended
/// key usages, as <c>akkal4 cert create</c> sets it, or it is itself one of the trust anchors (the cluster's CA used as
/// every node's certificate, as an earlier <c>cert create</c> made it, without the usage: whoever holds it holds the CA's
/// key and could sign a member certificate anyway). A certificate the same CA signed for something else (an HTTPS
/// server's, say) is not a member's. Hostnames are not checked: nodes join by IP, and the CA is the cluster's own.
/// </summary>
public sealed class RemotingTls
{
    public X509Certificate2 Certificate { get; }
    /// <summary>The roots a peer's certificate must chain to.</summary>
    public X509Certificate2Collection TrustAnchors { get; }

    /// <summary>
    /// The extended key usage that makes a certificate a cluster member's (AkkaL4's own, under the UUID arc 2.25 of
    /// ITU-T X.667, which needs no registration). <c>akkal4 cert create</c> puts it, with serverAuth and clientAuth, in
    /// every certificate it makes; a certificate of your own PKI needs it too (OpenSSL:
    /// <c>extendedKeyUsage = serverAuth, clientAuth, 2.25.139096495120150460239324983570819273742</c>).
    /// </summary>
    public const string NodeUsage = "2.25.139096495120150460239324983570819273742";

    /// <summary>What a certificate without <see cref="NodeUsage"/> lacks, and what to do, as errors and refusals say it.</summary>
    internal const string NodeUsageMissing = "does not carry AkkaL4's cluster-member extended key usage " + NodeUsage
        + " (an earlier `akkal4 cert create` did not set it): make the node's certificate again from the cluster's CA with "
        + "`akkal4 cert create --ca CA.p12 --out NODE.p12` (keep that CA: a new one is a new cluster, which the running nodes refuse), "
        + "or add the usage to a certificate of your own";

    internal RemotingTls(X509Certificate2 certificate, X509Certificate2Collection anchors)
    {
        Certificate = certificate;
        TrustAnchors = anchors;
    }

    /// <summary>
    /// This node's certificate and the CA(s) after it. The certificate needs <see cref="NodeUsage"/> unless the file has no
    /// separate CA (it is its own trust anchor: the cluster's CA, or one self-signed certificate, shared by every node).
    /// </summary>
    /// <exception cref="InvalidDataException">The file is no PKCS#12 with a certificate and its private key, or the password is wrong.</exception>
    public static RemotingTls Load(string path, string? password)
    {
        X509Certificate2Collection all;
        try
        {
            all = X509CertificateLoader.LoadPkcs12CollectionFromFile(path, password, X509KeyStorageFlags.DefaultKeySet);
        }
        catch (CryptographicException e)
        {
            throw new InvalidDataException($"{path}: not a PKCS#12 file this password opens ({e.Message})", e);
        }
        var own = all.FirstOrDefault(c => c.HasPrivateKey)
                  ?? throw new InvalidDataException($"{path}: no certificate with a private key in it");
        var anchors = new X509Certificate2Collection(all.Where(c => !c.HasPrivateKey).ToArray());
        if (anchors.Count == 0) anchors.Add(own);
        if (!IsNodeCertificate(own) && !IsAnchor(own, anchors))
            throw new InvalidDataException($"{path}: its certificate ({own.Subject}) {NodeUsageMissing}");
        return new RemotingTls(own, anchors);
    }

    /// <summary>
    /// Whether <paramref name="peer"/> (with the intermediates it presented) chains to one of <see cref="TrustAnchors"/>
    /// and was made for cluster membership (<see cref="NodeUsage"/>) or is itself one of them.
    /// </summary>
    public bool Trusts(X509Certificate2 peer, X509Chain? presented) => IsMember(peer) && ChainsTo(peer, presented, TrustAnchors);

    /// <summary>Whether <paramref name="peer"/> is a member's certificate if it chains to the anchors: it carries the usage, or is an anchor.</summary>
    private bool IsMember(X509Certificate2 peer) => IsNodeCertificate(peer) || IsAnchor(peer, TrustAnchors);

    /// <summary>Whether <paramref name="certificate"/> is byte for byte one of <paramref name="anchors"/>.</summary>
    private static bool IsAnchor(X509Certificate2 certificate, X509Certificate2Collection anchors) =>
        anchors.Any(a => a.RawData.AsSpan().SequenceEqual(certificate.RawData));

    /// <summary>Whether <paramref name="certificate"/> carries <see cref="NodeUsage"/> among its extended key usages.</summary>
    public static bool IsNodeCertificate(X509Certificate2 certificate) =>
        certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().Any(e => e.EnhancedKeyUsages.Cast<Oid>().Any(o => o.Value == NodeUsage));

    /// <summary>
    /// Whether <paramref name="peer"/>, with the intermediates it presented, chains to one of <paramref name="anchors"/>
    /// (and nothing else): a private CA's trust, as remoting and TLS origination's <c>caCertificates</c> use it.
    /// </summary>
    public static bool ChainsTo(X509Certificate2 peer, X509Chain? presented, X509Certificate2Collection anchors)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(anchors);
        // The cluster's CA publishes no revocation list; validity dates are still checked.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (presented is not null)
            foreach (var element in presented.ChainElements)
                if (!element.Certificate.Equals(peer)) chain.ChainPolicy.ExtraStore.Add(element.Certificate);
        return chain.Build(peer);
    }

    /// <summary>Akka.Remote's SSL setup: mutual authentication, every peer (client or server side) checked by <see cref="Trusts"/>.</summary>
    public DotNettySslSetup Setup() => new(Certificate, suppressValidation: false, requireMutualAuthentication: true,
        validateCertificateHostname: false, customValidator: Validate);

    private bool Validate(X509Certificate2? certificate, X509Chain? chain, string remotePeer, SslPolicyErrors errors, ILoggingAdapter log)
    {
        if (certificate is null)
        {
            log.Warning("remoting: refused {0}: no certificate", remotePeer);
            return false;
        }
        if (!ChainsTo(certificate, chain, TrustAnchors))
            log.Warning("remoting: refused {0}: its certificate ({1}, issued by {2}) does not chain to this cluster's CA", remotePeer, certificate.Subject, certificate.Issuer);
        else if (!IsMember(certificate))
            log.Warning("remoting: refused {0}: its certificate ({1}, issued by {2}) chains to this cluster's CA but is not a member's: it {3}",
                remotePeer, certificate.Subject, certificate.Issuer, NodeUsageMissing);
        else return true;
        return false;
    }

    /// <summary>HOCON that turns the transport's SSL on; the certificate itself comes with <see cref="Setup"/>.</summary>
    public const string Hocon = "akka.remote.dot-netty.tcp.enable-ssl = on";
}
