using System.Collections.Immutable;
using System.IO.Compression;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.DistributedData;
using Akka.Serialization;
using AkkaL4.Actors;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.Support;
using Xunit.Abstractions;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// Gossip of the whole replicated configuration on remoting's own threads: the sender's writer serializes it, and a
/// heartbeat between those two nodes waits behind it (one connection, in order). The configuration (the writer's register)
/// is gzip already; Akka's serializer gzipped the gossip again at the default level, ours (<see cref="ReplicatorMessages"/>)
/// stores it in the gzip stream uncompressed. Checked here by the structure of the bytes, not by a clock (the CPU it cost:
/// bench/README.md); and that the bytes are Akka's, that each serializer reads the other's.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class RemotingPathCostTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>The node's settings (cluster.hocon), over distributed data's own (which the node's replicator adds at start).</summary>
    private readonly ActorSystem _system = ActorSystem.Create("remoting-path-cost",
        ConfigurationFactory.ParseString("akka.actor.provider = local\nakka.loglevel = WARNING")
            .WithFallback(ConfigurationFactory.ParseString(RouterNode.BuiltInHocon()))
            .WithFallback(DistributedData.DefaultConfig()));

    public void Dispose() => _system.Dispose();

    private static readonly UniqueAddress Writer = new(new Address("akka.tcp", "akkal4", "127.203.0.1", 4053), 1);

    /// <summary>One of distributed data's messages (internal types: made as its replicator makes them, by reflection).</summary>
    private static object Internal(string type, params object?[] arguments) =>
        Activator.CreateInstance(typeof(DistributedData).Assembly.GetType("Akka.DistributedData.Internal." + type, throwOnError: true)!,
            System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic, null, arguments, null)!;

    private static object Envelope(ConfigContent content) =>
        Internal("DataEnvelope", new LWWRegister<ConfigContent>(Writer, content, content.Revision), ImmutableDictionary<UniqueAddress, IPruningState>.Empty, null);

    private static object Write(ConfigContent content) => Internal("Write", ConfigWriter.Key.Id, Envelope(content), Writer);

    private static object Gossip(ConfigContent content, bool sendBack = false, long? to = 2) =>
        Internal("Gossip", ImmutableDictionary<string, Akka.DistributedData.Internal.DataEnvelope>.Empty.Add(ConfigWriter.Key.Id, (Akka.DistributedData.Internal.DataEnvelope)Envelope(content)),
            sendBack, to, 1L);

    private SerializerWithStringManifest Bound(object message) => Assert.IsAssignableFrom<SerializerWithStringManifest>(_system.Serialization.FindSerializerFor(message));

    private static ConfigContent Noise(long revision) =>
        new(revision, ControlPlaneKit.Decode(WriteChaosTests.Incompressible(4 * 1024 * 1024)));

    /// <summary>
    /// The deflate blocks of a gzip member (RFC 1952's header, RFC 1951's blocks): how many were stored (BTYPE 00) and
    /// their bytes, or the first compressed one (BTYPE 01 fixed or 10 dynamic Huffman), after which it stops (reading
    /// further would take a whole inflater).
    /// </summary>
    private static (int Stored, long StoredBytes, string? Compressed) Blocks(byte[] gzip)
    {
        Assert.True(gzip is [0x1f, 0x8b, 8, ..], "not a gzip member");
        var flags = gzip[3];
        var at = 10;
        if ((flags & 4) != 0)
            at += 2 + (gzip[at] | gzip[at + 1] << 8);
        if ((flags & 8) != 0)
            at = Array.IndexOf(gzip, (byte)0, at) + 1;
        if ((flags & 16) != 0)
            at = Array.IndexOf(gzip, (byte)0, at) + 1;
        if ((flags & 2) != 0)
            at += 2;
        var bit = at * 8L;
        int Bits(int count)
        {
            var value = 0;
            for (var i = 0; i < count; i++, bit++)
                value |= (gzip[bit / 8] >> (int)(bit % 8) & 1) << i;
            return value;
        }
        var (stored, bytes) = (0, 0L);
        while (true)
        {
            var final = Bits(1) == 1;
            var type = Bits(2);
            if (type != 0)
                return (stored, bytes, $"block {stored} is {(type == 1 ? "fixed Huffman" : type == 2 ? "dynamic Huffman" : "invalid")} (BTYPE {type})");
            var start = (int)((bit + 7) / 8);
            var length = gzip[start] | gzip[start + 1] << 8;
            Assert.Equal(length ^ 0xffff, gzip[start + 2] | gzip[start + 3] << 8);
            (stored, bytes, bit) = (stored + 1, bytes + length, (start + 4L + length) * 8);
            if (final)
            {
                Assert.Equal(gzip.Length, (int)(bit / 8) + 8); // CRC-32 and ISIZE, then the end
                return (stored, bytes, null);
            }
        }
    }

    [Fact]
    public void Gossip_is_gzipped_in_stored_blocks_so_the_gzipped_configuration_is_not_compressed_again()
    {
        var ours = Bound(Gossip(new ConfigContent(3, [])));
        var akka = new Akka.DistributedData.Serialization.ReplicatorMessageSerializer((ExtendedActorSystem)_system);

        // The 4 MiB configuration (gzip already, in the writer's register): every deflate block stored, the protobuf in
        // them whole, so the gossip is larger than the protobuf it carries, never compressed.
        var gossip = Gossip(Noise(7));
        var sent = ours.ToBinary(gossip);
        var plain = Gunzip(sent);
        var (stored, bytes, compressed) = Blocks(sent);
        Assert.True(compressed is null, $"ours compressed the configuration's gossip: {compressed}");
        Assert.Equal(plain.Length, bytes);
        Assert.True(sent.Length > plain.Length, $"{sent.Length} bytes sent for a protobuf of {plain.Length}");
        // The check can fail: Akka's serializer compresses the same gossip (its first block Huffman-coded).
        var (akkaStored, _, akkaCompressed) = Blocks(akka.ToBinary(gossip));
        output.WriteLine($"ours: {stored} stored blocks, {sent.Length} bytes for {plain.Length}; Akka's: {akkaStored} stored blocks before {akkaCompressed ?? "the end"}");
        Assert.NotNull(akkaCompressed);
    }

    private static byte[] Gunzip(byte[] gzipped)
    {
        using var gzip = new GZipStream(new MemoryStream(gzipped), CompressionMode.Decompress);
        var plain = new MemoryStream();
        gzip.CopyTo(plain);
        return plain.ToArray();
    }

    [Theory]
    [InlineData(false, 2L)]
    [InlineData(true, 2L)]
    [InlineData(false, null)]
    [InlineData(true, 0L)]
    public void Gossip_is_akkas_own_message_read_by_akkas_serializer_either_way(bool sendBack, long? to)
    {
        var ours = Bound(Gossip(new ConfigContent(3, [])));
        Assert.IsType<ReplicatorMessages>(ours);
        var akka = new Akka.DistributedData.Serialization.ReplicatorMessageSerializer((ExtendedActorSystem)_system);
        Assert.Equal(akka.Identifier, ours.Identifier);
        var content = new ConfigContent(9, ControlPlaneKit.Decode(WriteChaosTests.Services(2_000)));
        var gossip = Gossip(content, sendBack, to);
        Assert.Equal(akka.Manifest(gossip), ours.Manifest(gossip));

        // The same protobuf, byte for byte, gzipped another way: any node, of any version, reads it.
        var sent = ours.ToBinary(gossip);
        Assert.Equal(Gunzip(akka.ToBinary(gossip)), Gunzip(sent));
        foreach (var read in new[] { akka.FromBinary(sent, ours.Manifest(gossip)), ours.FromBinary(akka.ToBinary(gossip), akka.Manifest(gossip)) })
        {
            var type = read.GetType();
            Assert.Equal(sendBack, (bool)type.GetProperty("SendBack")!.GetValue(read)!);
            Assert.Equal(to, (long?)type.GetProperty("ToSystemUid")!.GetValue(read));
            var entries = (IEnumerable<KeyValuePair<string, Akka.DistributedData.Internal.DataEnvelope>>)type.GetProperty("UpdatedData")!.GetValue(read)!;
            var (key, envelope) = Assert.Single(entries);
            Assert.Equal(ConfigWriter.Key.Id, key);
            var received = Assert.IsType<LWWRegister<ConfigContent>>(envelope.Data).Value;
            Assert.Equal(9, received.Revision);
            Assert.Equal(2_000, received.Resources.Count);
        }
        // Every other message as Akka writes it.
        var write = Write(content);
        Assert.Equal(akka.ToBinary(write), ours.ToBinary(write));
    }
}
