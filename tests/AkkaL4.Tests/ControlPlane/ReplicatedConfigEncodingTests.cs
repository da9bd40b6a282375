using System.IO.Compression;
using System.Runtime.Serialization;
using System.Text.Json;
using Akka.Actor;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Serialization;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// The replicated configuration as remoting carries it (<see cref="ProtocolSerializer"/>, manifest <c>cc</c>): encoded
/// once per object, and a large one that arrives is read only as far as its revision until a node reads its resources,
/// so remoting's reader (where the sender's heartbeats wait) never decodes a whole configuration, nor the copies gossip
/// sends back. Its bytes are kept, so a node that sends it on sends what it got.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class ReplicatedConfigEncodingTests : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("replicated-config-encoding", "akka.loglevel = WARNING");
    private readonly ProtocolSerializer _serializer;

    public ReplicatedConfigEncodingTests() => _serializer = new ProtocolSerializer((ExtendedActorSystem)_system);

    public void Dispose() => _system.Dispose();

    private static ConfigContent Large() => new(42, ControlPlaneKit.Decode(WriteChaosTests.Services(2_000)));

    [Fact]
    public void A_configuration_is_encoded_once_and_a_received_one_keeps_the_bytes_it_came_as()
    {
        var sent = Large();
        var bytes = _serializer.ToBinary(sent);
        Assert.True(bytes is [0x1f, 0x8b, ..], "a configuration this large travels gzipped");
        Assert.Same(bytes, _serializer.ToBinary(sent));

        var received = Assert.IsType<ConfigContent>(_serializer.FromBinary(bytes, "cc"));
        Assert.Equal(42, received.Revision);
        // Sent on (gossip, a digest): the same bytes, not an encoding of its own.
        Assert.Equal(bytes, _serializer.ToBinary(received));
        Assert.Equal(JsonSerializer.Serialize(sent, ModelJson.Options), JsonSerializer.Serialize(received, ModelJson.Options));
    }

    [Fact]
    public void A_large_received_configuration_is_decoded_when_its_resources_are_first_read()
    {
        // Its revision reads, the rest does not: taking the message must not decode it (that is what held heartbeats up).
        var json = "{\"Revision\":43,\"Resources\":[{\"kind\":\"NoSuchKind\",\"pad\":\"" + new string('x', 40_000) + "\"}]}";
        var packed = new MemoryStream();
        using (var gzip = new GZipStream(packed, CompressionLevel.Fastest)) gzip.Write(System.Text.Encoding.UTF8.GetBytes(json));

        var received = Assert.IsType<ConfigContent>(_serializer.FromBinary(packed.ToArray(), "cc"));
        Assert.Equal(43, received.Revision);
        var error = Assert.Throws<SerializationException>(() => received.Resources.Count);
        Assert.Contains("cc", error.Message);
        // Not a message of that manifest's shape at all: refused when taken, as before.
        Assert.Throws<SerializationException>(() => _serializer.FromBinary([0x1f, 0x8b, 1, 2, 3], "cc"));
    }
}
