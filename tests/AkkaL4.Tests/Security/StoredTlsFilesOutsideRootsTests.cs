using System.Net;
using AkkaL4.Tests.DataPlane;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.Security;

/// <summary>
/// A DestinationRule stored before akkal4.data-plane.tls-file-roots (or written through a node with other roots) that names
/// a TLS file outside this node's roots loads, and the rest of its revision routes, but was only reported at its first
/// connection. Now the node says so when it puts the revision in force: in its log and in /v1/status, naming the rule, the
/// field and the roots. A real node serving its last-known-good copy, its admin API and a relayed connection (127.198.1.x).
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class StoredTlsFilesOutsideRootsTests : IDisposable
{
    private static readonly AddressBlock Block = AddressBlocks.Of(198);
    private readonly string _directory = TempDirectory();

    public void Dispose() => DeleteDirectory(_directory);

    [Fact]
    public async Task A_stored_rule_naming_a_file_outside_the_roots_is_reported_at_compile_and_the_rest_routes()
    {
        var listener = Block.At(1, 2, 19000);
        var upstream = Block.Host(1, 3);
        await using var echo = new ByteEchoServer(new IPEndPoint(IPAddress.Parse(upstream), 9000));
        var resources = Decode(
            Service("web", "default", listener.Address.ToString()),
            Workload("web-1", "default", upstream, "web"),
            Manifests.DestinationRule("legacy", "default", """
                host: legacy.default.svc.cluster.local
                trafficPolicy:
                  portLevelSettings:
                  - port: {number: 443}
                    tls: {mode: SIMPLE, caCertificates: /srv/pki/legacy-ca.pem}
                """),
            Manifests.DestinationRule("inside", "default", """
                host: inside.default.svc.cluster.local
                trafficPolicy:
                  tls: {mode: SIMPLE, caCertificates: /etc/akkal4/tls/ca.pem}
                """));
        // Stored as an earlier version (without roots) accepted it: served from the data directory at start.
        await using var node = RefusalKit.StartOnStored(_directory, resources, "stored-tls", Block.Host(1, 1),
            "akkal4.data-plane.tls-file-roots = [\"/etc/akkal4/tls\"]");
        const string Expected = "DestinationRule/default/legacy spec.trafficPolicy.portLevelSettings[0].tls.caCertificates: '/srv/pki/legacy-ca.pem' is "
            + "outside the TLS file roots: TLS files are read only inside akkal4.data-plane.tls-file-roots [/etc/akkal4/tls]";

        // Not refused: revision 1 is in force and routes.
        Assert.Equal(1, node.Routes.Current.Revision);
        await BoundAsync(node);
        var (reply, _) = await TestClient.OneLineAsync(Block.Host(1, 100), listener, "still routing");
        Assert.Equal("still routing", reply);

        // In /v1/status, once (the rule inside the roots is not named).
        await using var admin = await AdminWrites.StartAsync(node, Block.Host(1, 1), Block.Host(1, 101));
        var notes = await admin.NotesAsync();
        var note = Assert.Single(notes, n => n.Contains("tls-file-roots"));
        Assert.StartsWith(Expected, note);
        Assert.Contains("its connections are refused (NC)", note);

        // In the log, whenever a revision with it is put in force.
        await RefusalKit.AssertWarnsWhenAppliedAsync(node, resources, Expected);
    }
}
