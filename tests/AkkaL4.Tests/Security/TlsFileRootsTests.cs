using System.Collections.Immutable;
using Akka.Configuration;
using Akka.Event;
using AkkaL4.Actors;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.DataPlane;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Security;

/// <summary>
/// review1-s14 R4: a DestinationRule's TLS files could be any path; whether a node dialled through the rule told an admin
/// token holder whether the file exists on the router hosts (and a readable PEM pair was presented as a client
/// certificate). Now they must be inside akkal4.data-plane.tls-file-roots, judged by the path's text before anything is
/// read. The test process allows its temporary directory (<see cref="TestTlsFileRoots"/>); the files here outside it are
/// in /var/tmp. No sockets.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class TlsFileRootsTests : IDisposable
{
    private readonly string _outside = Path.Combine("/var/tmp", $"akkal4-sec15-{Guid.NewGuid():N}");

    public TlsFileRootsTests() => Directory.CreateDirectory(_outside);

    public void Dispose() => Directory.Delete(_outside, recursive: true);

    private static UpstreamTls Simple(string ca) => new("SIMPLE", ca, null, null, null, Seq<string>.Empty, false) { Rules = "DestinationRule/default/roots" };

    private static async Task<string> Refusal(UpstreamTls tls)
    {
        var e = await Assert.ThrowsAsync<UpstreamTlsConfigurationException>(async () => await TlsOrigination.LoadAsync(tls, NoLogger.Instance, TimeSpan.FromSeconds(30)));
        return e.Message;
    }

    [Fact]
    public void The_built_in_roots_are_akkal4s_own_directory_and_the_one_of_istios_examples()
    {
        Assert.Equal(new[] { "/etc/akkal4/tls", "/etc/certs" }, TlsFileRoots.From(RouterNode.Layered([])).ToArray());
        Assert.Equal(new[] { "/srv/tls", "/" }, TlsFileRoots.From(ConfigurationFactory.ParseString($"{TlsFileRoots.Key} = [\"/srv/tls/\", \"/\"]")).ToArray());
        foreach (var bad in new[] { "certs", "/etc/../tmp", "./certs" })
            Assert.Contains($"{TlsFileRoots.Key}: '{bad}' is not an absolute directory path",
                Assert.Throws<ConfigurationException>(() => TlsFileRoots.From(ConfigurationFactory.ParseString($"{TlsFileRoots.Key} = [\"{bad}\"]"))).Message);
    }

    [Fact]
    public void A_path_is_judged_by_its_text()
    {
        string[] roots = ["/etc/akkal4/tls", "/etc/certs"];
        Assert.Null(TlsFileRoots.Refusal("/etc/certs/ca.pem", roots));
        Assert.Null(TlsFileRoots.Refusal("/etc/akkal4/tls/a/b/key.pem", roots));
        Assert.Null(TlsFileRoots.Refusal("/anything", ["/"]));
        Assert.Contains("is outside the TLS file roots: TLS files are read only inside akkal4.data-plane.tls-file-roots [/etc/akkal4/tls, /etc/certs]",
            TlsFileRoots.Refusal("/etc/certs-of-others/ca.pem", roots));
        Assert.Contains("is outside the TLS file roots", TlsFileRoots.Refusal("/etc/certs", roots));
        Assert.Contains("has a '.' or '..' segment", TlsFileRoots.Refusal("/etc/certs/../shadow", roots));
        Assert.Contains("has a '.' or '..' segment", TlsFileRoots.Refusal("/etc/certs/./ca.pem", roots));
        Assert.Contains("is a relative path", TlsFileRoots.Refusal("etc/certs/ca.pem", roots));
        Assert.Contains("akkal4.data-plane.tls-file-roots is empty, so no TLS file is read", TlsFileRoots.Refusal("/etc/certs/ca.pem", []));
    }

    [Fact]
    public async Task A_node_refuses_files_outside_the_roots_unread_the_same_whether_they_exist_or_not()
    {
        using var ca = new TestCa("roots");
        var copy = Path.Combine(_outside, "ca.pem");
        File.Copy(ca.CaFile, copy);
        // Inside the roots the same file reads: the refusal below is the place's, not the file's.
        Assert.Single((await TlsOrigination.LoadAsync(Simple(ca.CaFile), NoLogger.Instance, TimeSpan.FromSeconds(30))).Authorities!);

        var existing = await Refusal(Simple(copy));
        var missing = await Refusal(Simple(Path.Combine(_outside, "missing.pem")));
        var climbing = await Refusal(Simple(Path.Combine(TestTlsFileRoots.Temp, "..", copy.TrimStart('/'))));

        Assert.Contains("is outside the TLS file roots", existing);
        Assert.Contains("(refused unread)", existing);
        Assert.Equal(existing.Replace(copy, "PATH"), missing.Replace(Path.Combine(_outside, "missing.pem"), "PATH"));
        Assert.Contains("has a '.' or '..' segment", climbing);
        // MUTUAL's pair too: a key outside is refused before the certificate is read.
        var (certificate, _) = ca.WritePem(ca.Issue("client"), "client");
        var mutual = new UpstreamTls("MUTUAL", null, certificate, Path.Combine(_outside, "key.pem"), null, Seq<string>.Empty, false) { Rules = "DestinationRule/default/roots" };
        Assert.Contains($"'{Path.Combine(_outside, "key.pem")}' is outside the TLS file roots", await Refusal(mutual));
    }

    [Fact]
    public async Task A_ca_file_without_a_certificate_is_an_error_not_an_empty_trust_list()
    {
        using var ca = new TestCa("no-pem");
        var text = Path.Combine(ca.Directory, "notes.pem");
        await File.WriteAllTextAsync(text, "this is no certificate\n");

        Assert.Contains($"{text} holds no PEM certificate", await Refusal(Simple(text)));
    }
}
