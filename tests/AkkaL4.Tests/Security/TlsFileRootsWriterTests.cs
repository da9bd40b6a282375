using System.Net;
using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Security;

/// <summary>
/// review1-s14 R4 at the config writer: a write naming a TLS file outside akkal4.data-plane.tls-file-roots is refused with
/// the resource, the field, the reason and the roots, by the path alone (an existing file and a missing one alike); one
/// inside (the test process allows its temporary directory) is accepted. A real node and its admin API on 127.196.2.x.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", TestCategories.EndToEnd)]
public sealed class TlsFileRootsWriterTests : IDisposable
{
    private static readonly AddressBlock Block = AddressBlocks.Of(196);
    private readonly string _directory = ControlPlaneKit.TempDirectory();

    public void Dispose() => ControlPlaneKit.DeleteDirectory(_directory);

    private static string Rule(string ca, string key) => $$"""
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: roots, namespace: default}
        spec:
          host: roots.default.svc.cluster.local
          subsets:
          - name: v1
            labels: {version: v1}
            trafficPolicy:
              portLevelSettings:
              - port: {number: 443}
                tls: {mode: MUTUAL, clientCertificate: {{key}}, privateKey: {{key}}, caCertificates: {{ca}}}
        """;

    [Fact]
    public async Task A_write_naming_tls_files_outside_the_roots_is_refused_by_the_path_alone()
    {
        var inside = Path.Combine(_directory, "ca.pem");
        await File.WriteAllTextAsync(inside, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
        await using var node = SecurityKit.StartNode("tls-file-roots", Block.Host(2, 1), null);
        await using var admin = await AdminWrites.StartAsync(node, Block.Host(2, 1), Block.Host(2, 100));
        Task<(HttpStatusCode Status, string Body)> DryRun(string ca, string key) => admin.PutAsync(Rule(ca, key), "?dryRun=All");

        var accepted = await DryRun(inside, inside);
        Assert.True(accepted.Status == HttpStatusCode.OK, accepted.Body);

        var existing = await DryRun("/etc/hostname", inside);
        var missing = await DryRun("/etc/akkal4-sec15-missing.pem", inside);
        Assert.Equal(HttpStatusCode.BadRequest, existing.Status);
        Assert.Contains("DestinationRule/default/roots", existing.Body);
        Assert.Contains("spec.subsets[0].trafficPolicy.portLevelSettings[0].tls.caCertificates", existing.Body);
        Assert.Contains("'/etc/hostname' is outside the TLS file roots: TLS files are read only inside akkal4.data-plane.tls-file-roots [", existing.Body);
        Assert.Contains("/etc/akkal4/tls, /etc/certs", existing.Body);
        Assert.Equal(existing.Body.Replace("/etc/hostname", "PATH"), missing.Body.Replace("/etc/akkal4-sec15-missing.pem", "PATH"));

        var climbing = await DryRun(inside, Path.Combine(_directory, "..", "..", "etc", "hostname"));
        Assert.Equal(HttpStatusCode.BadRequest, climbing.Status);
        Assert.Contains("tls.clientCertificate", climbing.Body);
        Assert.Contains("tls.privateKey", climbing.Body);
        Assert.Contains("has a '.' or '..' segment", climbing.Body);
        Assert.DoesNotContain("tls.caCertificates", climbing.Body);
    }
}
