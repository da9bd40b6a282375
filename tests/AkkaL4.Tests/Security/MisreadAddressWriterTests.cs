using System.Net;
using System.Net.Sockets;
using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.DataPlane;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.Security;

/// <summary>
/// sec18 at the config writer, through a node's admin API: a write that brings an address a person reads as one IP and
/// the node as another ('127.188.1.010' binds 127.188.1.8) is refused, naming each, and nothing listens at the address the
/// parser reads; the same write in canonical text is accepted and routes. Real sockets on 127.188.1.x.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", TestCategories.EndToEnd)]
public sealed class MisreadAddressWriterTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(188);

    [Fact]
    public async Task A_write_bringing_a_misread_address_is_refused_and_nothing_listens_where_the_parser_reads_it()
    {
        await using var echo = new ByteEchoServer(Block.At(1, 16, 9000));
        await using var node = SecurityKit.StartNode($"misread-writer-{Guid.NewGuid():N}", Block.Host(1, 1), null);
        await using var admin = await AdminWrites.StartAsync(node, Block.Host(1, 1), Block.Host(1, 100));

        var refused = await admin.PutAsync(Manifests.Join(Service("web", "default", "127.188.1.010"), Workload("web-1", "default", "127.188.1.020", "web")));
        Assert.True(refused.Status == HttpStatusCode.BadRequest, refused.ToString());
        Assert.Contains("Service/default/web  spec.clusterIP  '127.188.1.010' reads as 127.188.1.8 to the node's parser (a leading zero makes a "
                        + "number octal, as inet_aton reads it): the node would listen on 127.188.1.8, not the address a person reads; write "
                        + "127.188.1.8, or 127.188.1.10 if the zeros are padding", refused.Body);
        Assert.Contains("WorkloadEntry/default/web-1  spec.address  '127.188.1.020' reads as 127.188.1.16", refused.Body);
        Assert.Equal(0, node.Routes.Current.Revision);
        Assert.Equal(SocketError.ConnectionRefused, await TestClient.TryConnectAsync(Block.Host(1, 101), Block.At(1, 8, 19000)));

        var accepted = await admin.PutAsync(Manifests.Join(Service("web", "default", "127.188.1.10"), Workload("web-1", "default", "127.188.1.16", "web")));
        Assert.True(accepted.Status == HttpStatusCode.OK, accepted.ToString());
        Assert.True(await node.WaitForRevisionAsync(1, Patience), "revision 1 in force");
        await BoundAsync(node);
        var (reply, _) = await TestClient.OneLineAsync(Block.Host(1, 101), Block.At(1, 10, 19000), "as written");
        Assert.Equal("as written", reply);
        Assert.Equal(SocketError.ConnectionRefused, await TestClient.TryConnectAsync(Block.Host(1, 101), Block.At(1, 8, 19000)));
    }
}

/// <summary>
/// sec18 on a node: a revision stored before the writer refused misread addresses still loads and routes as it did (by the
/// address the parser reads: listened on and dialled there), and the node says so in /v1/status and its log, naming each
/// address, what it reads as and what to write. A real node serving its last-known-good copy (127.188.2.x).
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class StoredMisreadAddressTests : IDisposable
{
    private static readonly AddressBlock Block = AddressBlocks.Of(188);
    private readonly string _directory = TempDirectory();

    public void Dispose() => DeleteDirectory(_directory);

    [Fact]
    public async Task A_stored_revision_with_misread_addresses_routes_as_before_and_the_node_names_each()
    {
        // 127.188.2.16 to the parser: the upstream a stored '127.188.2.020' has always been dialled at.
        await using var echo = new ByteEchoServer(Block.At(2, 16, 9000));
        var resources = Decode(Service("web", "default", "127.188.2.010"), Workload("web-1", "default", "127.188.2.020", "web"));
        await using var node = RefusalKit.StartOnStored(_directory, resources, "stored-misread", Block.Host(2, 1));
        Assert.Equal(1, node.Routes.Current.Revision);
        await BoundAsync(node);
        var (reply, _) = await TestClient.OneLineAsync(Block.Host(2, 100), Block.At(2, 8, 19000), "still routing");
        Assert.Equal("still routing", reply);

        await using var admin = await AdminWrites.StartAsync(node, Block.Host(2, 1), Block.Host(2, 101));
        var notes = await admin.NotesAsync();
        var listen = Assert.Single(notes, n => n.StartsWith("Service/default/web spec.clusterIP: "));
        Assert.Contains("'127.188.2.010' reads as 127.188.2.8", listen);
        Assert.Contains("write 127.188.2.8, or 127.188.2.10 if the zeros are padding", listen);
        Assert.EndsWith("(stored before the config writer refused such addresses: in force as the node reads it)", listen);
        var dial = Assert.Single(notes, n => n.StartsWith("WorkloadEntry/default/web-1 spec.address: "));
        Assert.Contains("the node would dial 127.188.2.16", dial);

        await RefusalKit.AssertWarnsWhenAppliedAsync(node, resources, listen);
    }
}
