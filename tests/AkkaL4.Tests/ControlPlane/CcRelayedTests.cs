using System.IO.Compression;
using System.Runtime.Serialization;
using System.Text.Json;
using Akka.Actor;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Serialization;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// review2-s11 #1: a configuration a writer of the previous version replicated (manifest "cc") keeps its bytes on a new
/// node; the new node sends it on (gossip) under the manifest "cg"; the next new node reads the cc JSON as a configuration
/// by namespace without a "Namespaces" property: the same revision with no resources at all.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class CcRelayedTests : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("cc-relayed", "akka.loglevel = WARNING");
    private readonly ProtocolSerializer _serializer;

    public CcRelayedTests() => _serializer = new ProtocolSerializer((ExtendedActorSystem)_system);

    public void Dispose() => _system.Dispose();

    /// <summary>As main (the previous version) encodes a ConfigContent: its JSON, gzipped above 16 KiB.</summary>
    private static byte[] AsPreviousVersionSends(ConfigContent content, bool gzip)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(content, content.GetType(), ModelJson.Options);
        if (!gzip) return json;
        var packed = new MemoryStream();
        using (var z = new GZipStream(packed, CompressionLevel.Fastest)) z.Write(json);
        return packed.ToArray();
    }

    [Theory]
    [InlineData(2_000, true)]
    [InlineData(1, false)]
    public void A_previous_writers_configuration_sent_on_by_a_new_node_keeps_its_resources(int services, bool large)
    {
        var content = new ConfigContent(42, ControlPlaneKit.Decode(WriteChaosTests.Services(services)));
        var fromOldWriter = AsPreviousVersionSends(content, large);
        var onNewNode = Assert.IsType<ConfigContent>(_serializer.FromBinary(fromOldWriter, "cc"));
        Assert.Equal(services, onNewNode.Resources.Count);

        // Gossip from that node to another new node: ToBinary and Manifest, as Akka's replicator serializes the register's value.
        var manifest = _serializer.Manifest(onNewNode);
        var onNextNode = Assert.IsType<ConfigContent>(_serializer.FromBinary(_serializer.ToBinary(onNewNode), manifest));
        Assert.Equal(42, onNextNode.Revision);
        // On write11: 0 (revision 42 names an empty configuration on that node, which would apply it and save it as last-known-good).
        Assert.Equal(services, onNextNode.Resources.Count);
    }

    [Fact]
    public void A_cg_configuration_without_its_namespaces_is_refused_not_read_as_empty()
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes("{\"Revision\":7,\"Resources\":[]}");
        var read = Assert.IsType<ConfigContent>(_serializer.FromBinary(bytes, "cg"));
        Assert.Throws<SerializationException>(() => read.Resources.Count);
    }
}
