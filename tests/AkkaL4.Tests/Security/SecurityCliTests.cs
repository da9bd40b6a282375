using System.Security.Cryptography.X509Certificates;
using AkkaL4.Actors;
using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Security;

/// <summary>The real <c>akkal4</c>: cert create makes a CA and a node certificate it trusts; run refuses unsafe remoting with a clear message.</summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class SecurityCliTests : IDisposable
{
    private readonly string _directory = ControlPlaneKit.TempDirectory();
    private static readonly Dictionary<string, string> Password = new() { ["AKKAL4_TLS_CERT_PASSWORD"] = "cli-password" };

    public void Dispose() => ControlPlaneKit.DeleteDirectory(_directory);

    [Fact]
    public async Task Remoting_on_a_non_loopback_address_without_TLS_is_refused()
    {
        var run = await Akkal4Process.RunAsync(["run", "--remoting", "0.0.0.0:0", "--admin", "127.30.5.1:0", "--data", _directory]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("cluster remoting on 0.0.0.0:0 would be reachable from other hosts without TLS", run.Stderr);
        Assert.Contains("--tls-cert", run.Stderr);
        Assert.Contains("--insecure-remoting", run.Stderr);
    }

    [Fact]
    public async Task An_admin_API_off_loopback_with_a_short_token_is_refused_without_echoing_it()
    {
        var run = await Akkal4Process.RunAsync(["run", "--remoting", "127.30.5.4:0", "--admin", "0.0.0.0:0", "--data", _directory],
            environment: new Dictionary<string, string> { ["AKKAL4_ADMIN_TOKEN"] = "guessable-9" });

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("a token of 11 characters can be guessed there: give one of at least 16", run.Stderr);
        Assert.DoesNotContain("guessable", run.Stderr + run.Stdout);
    }

    [Fact]
    public async Task Cert_create_makes_a_CA_and_node_certificates_that_trust_each_other_only()
    {
        var ca = Path.Combine(_directory, "ca.p12");
        var node = Path.Combine(_directory, "node.p12");
        var other = Path.Combine(_directory, "other.p12");

        var madeCa = await Akkal4Process.RunAsync(["cert", "create", "--out", ca, "--name", "cli"], environment: Password);
        var madeNode = await Akkal4Process.RunAsync(["cert", "create", "--ca", ca, "--out", node, "--name", "n1"], environment: Password);
        var madeOther = await Akkal4Process.RunAsync(["cert", "create", "--out", other, "--name", "elsewhere"], environment: Password);
        var again = await Akkal4Process.RunAsync(["cert", "create", "--out", ca], environment: Password);

        Assert.True(madeCa.ExitCode == 0 && madeNode.ExitCode == 0 && madeOther.ExitCode == 0, $"{madeCa}\n{madeNode}\n{madeOther}");
        Assert.Contains("CN=n1, issued by CN=cli CA", madeNode.Stdout);
        Assert.Equal(2, again.ExitCode);
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(node));
        var nodeTls = RemotingTls.Load(node, "cli-password");
        var caTls = RemotingTls.Load(ca, "cli-password");
        var otherTls = RemotingTls.Load(other, "cli-password");
        Assert.True(nodeTls.Trusts(caTls.Certificate, null) && caTls.Trusts(nodeTls.Certificate, null) && nodeTls.Trusts(nodeTls.Certificate, null));
        Assert.False(nodeTls.Trusts(otherTls.Certificate, null) || otherTls.Trusts(nodeTls.Certificate, null));
        Assert.Contains(X509CertificateLoader.LoadPkcs12CollectionFromFile(node, "cli-password"), c => !c.HasPrivateKey && c.Subject == "CN=cli CA");

        var wrongPassword = await Akkal4Process.RunAsync(["run", "--tls-cert", node, "--tls-cert-password", "nope", "--admin", "127.30.5.2:0", "--data", _directory]);
        var wrongScheme = await Akkal4Process.RunAsync(["run", "--tls-cert", node, "--seed", "akka.tcp://akkal4@127.30.5.3:4053", "--admin", "127.30.5.2:0", "--data", _directory],
            environment: Password);

        Assert.Equal(2, wrongPassword.ExitCode);
        Assert.Contains("not a PKCS#12 file this password opens", wrongPassword.Stderr);
        Assert.Equal(2, wrongScheme.ExitCode);
        Assert.Contains("so its seeds are akka.ssl.tcp://", wrongScheme.Stderr);
    }
}
