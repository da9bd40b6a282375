using System.CommandLine;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AkkaL4.Actors;

namespace AkkaL4.Node.Cli;

/// <summary>
/// <c>akkal4 cert create</c>: certificates for remoting's mutual TLS, for a test or a small deployment. Without --ca it
/// makes a cluster CA (a self-signed certificate that every node may also use as is); with --ca it makes a node
/// certificate signed by that CA. Each carries the cluster-member usage (<see cref="RemotingTls.NodeUsage"/>) remoting
/// requires: any copy of one joins the cluster.
/// </summary>
internal static class CertCommand
{
    public const string PasswordVariable = "AKKAL4_TLS_CERT_PASSWORD";

    public static Command Create()
    {
        var output = new Option<string>("--out", "-o") { Description = "The PKCS#12 file to write (mode 0600).", Required = true };
        var ca = new Option<string?>("--ca")
        {
            Description = "The cluster CA's PKCS#12 (made by a `cert create` without --ca) to sign a node certificate with. "
                          + "Without it, a new cluster CA is made.",
        };
        var name = new Option<string>("--name") { Description = "The certificate's common name.", DefaultValueFactory = _ => "akkal4" };
        var days = new Option<int>("--days") { Description = "Days the certificate is valid.", DefaultValueFactory = _ => 825 };
        var password = new Option<string?>("--password")
        {
            Description = $"Password of the file written, and of --ca (default: ${PasswordVariable}; none: an unprotected file).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable(PasswordVariable),
        };
        password.Validators.Add(given => { if (!given.Implicit) RunCommand.WarnVisible(password.Name, PasswordVariable); });
        var force = new Option<bool>("--force") { Description = "Overwrite --out if it exists." };
        var create = new Command("create",
            "Make a certificate with its private key, as PKCS#12. Without --ca: a new cluster CA, usable on every node as is "
            + "(`run --tls-cert`). With --ca: a node certificate signed by the CA, with the CA's certificate (not its key) in the file; "
            + "nodes admit every certificate their file's CA signed with AkkaL4's cluster-member usage, which every certificate made here "
            + "carries: a copy of one is a member's credential, so do not put one on another host (a load balancer's HTTPS, say); "
            + "certificates made by an earlier version lack the usage and must be made again.")
        {
            output, ca, name, days, password, force,
        };
        create.SetAction(parse =>
        {
            var path = parse.GetValue(output)!;
            if (File.Exists(path) && !parse.GetValue(force))
            {
                Console.Error.WriteLine($"akkal4 cert: {path} exists (--force overwrites it)");
                return ExitCodes.Usage;
            }
            if (parse.GetValue(days) is < 1 or > 36500)
            {
                Console.Error.WriteLine("akkal4 cert: --days must be 1 to 36500");
                return ExitCodes.Usage;
            }
            var pw = parse.GetValue(password);
            X509Certificate2Collection made;
            try
            {
                made = parse.GetValue(ca) is { } caPath
                    ? NodeCertificate(LoadCa(caPath, pw), parse.GetValue(name)!, parse.GetValue(days))
                    : [Ca(parse.GetValue(name)!, parse.GetValue(days))];
            }
            catch (Exception e) when (e is InvalidDataException or CryptographicException or IOException)
            {
                Console.Error.WriteLine($"akkal4 cert: {e.Message}");
                return ExitCodes.Usage;
            }
            var bytes = made.Export(X509ContentType.Pkcs12, pw) ?? throw new InvalidOperationException("nothing to export");
            // The private key is in it: a new file (a new inode, so no descriptor opened on an old one sees it) created
            // owner-only, with no moment at which it was anyone else's to open.
            try
            {
                PrivateFiles.WriteAllBytes(path, [bytes]);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"akkal4 cert: {path}: {e.Message}");
                return ExitCodes.Usage;
            }
            var leaf = made[0];
            Console.WriteLine($"{path}: {leaf.Subject}, issued by {leaf.Issuer}, valid until {leaf.NotAfter:yyyy-MM-dd}, SHA-256 {leaf.GetCertHashString(HashAlgorithmName.SHA256)}");
            return ExitCodes.Ok;
        });
        return new Command("cert", "Certificates for cluster remoting's mutual TLS (a node may use its own for its admin API's HTTPS too).") { create };
    }

    /// <summary>A new cluster CA: self-signed, with its key, also usable as a node's own certificate.</summary>
    internal static X509Certificate2 Ca(string name, int days)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name} CA", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, critical: true));
        // Also usable as a node's own certificate (one certificate shared by the cluster).
        request.CertificateExtensions.Add(TlsUsages());
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(days));
    }

    /// <summary>A node certificate (with its key) signed by <paramref name="ca"/>, followed by the CA's certificate.</summary>
    internal static X509Certificate2Collection NodeCertificate(X509Certificate2 ca, string name, int days)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(TlsUsages());
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var notAfter = DateTimeOffset.UtcNow.AddDays(days);
        if (notAfter > ca.NotAfter) notAfter = ca.NotAfter;
        using var signed = request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-5), notAfter, RandomNumberGenerator.GetBytes(16));
        // The node's certificate with its key first, then the CA's certificate alone: what `run --tls-cert` trusts.
        return [signed.CopyWithPrivateKey(key), X509CertificateLoader.LoadCertificate(ca.RawData)];
    }

    /// <summary>TLS server and client (each node is both), and AkkaL4's cluster-member usage, which remoting requires.</summary>
    private static X509EnhancedKeyUsageExtension TlsUsages() =>
        new([Oid.FromOidValue("1.3.6.1.5.5.7.3.1", OidGroup.EnhancedKeyUsage), Oid.FromOidValue("1.3.6.1.5.5.7.3.2", OidGroup.EnhancedKeyUsage),
            new Oid(RemotingTls.NodeUsage, "AkkaL4 cluster member")], critical: false);

    private static X509Certificate2 LoadCa(string path, string? password)
    {
        var all = X509CertificateLoader.LoadPkcs12CollectionFromFile(path, password, X509KeyStorageFlags.Exportable);
        return all.FirstOrDefault(c => c.HasPrivateKey && c.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority))
               ?? throw new InvalidDataException($"{path}: no CA certificate with its private key (make one with `akkal4 cert create` without --ca)");
    }
}
