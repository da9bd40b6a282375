using System.IO.Compression;
using Akka.Actor;
using Akka.DistributedData.Internal;
using Akka.DistributedData.Serialization;
using Akka.Serialization;
using Google.Protobuf;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>
/// Distributed data's own serializer (its identifier, manifests and bytes; bound in cluster.hocon in its place) but for one
/// thing: gossip is gzipped without compression (stored blocks, read by every version as before). Akka gzips gossip at
/// gzip's default level, in remoting's writer, where the sender's heartbeats to that node wait behind it, and the
/// configuration it carries (the writer's register) is gzip already (<see cref="Messages.Serialization.ProtocolSerializer"/>):
/// compressing 4 MiB that does not shrink again cost that thread (figures in bench/README.md; RemotingPathCostTests checks
/// the stored blocks).
/// </summary>
public sealed class ReplicatorMessages(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    private readonly ReplicatorMessageSerializer _akka = new(system);

    /// <summary>Akka's own for these messages (akka.actor.serialization-identifiers in Akka.DistributedData's reference.conf).</summary>
    public override int Identifier => 12;

    public override string Manifest(object o) => _akka.Manifest(o);

    public override byte[] ToBinary(object obj) => obj.GetType() == GossipType ? Stored(obj) : _akka.ToBinary(obj);

    public override object FromBinary(byte[] bytes, string manifest) => _akka.FromBinary(bytes, manifest);

    /// <summary>Akka's gossip message type, internal to Akka.DistributedData: its properties are read by reflection.</summary>
    internal static readonly Type GossipType = typeof(DataEnvelope).Assembly.GetType("Akka.DistributedData.Internal.Gossip", throwOnError: true)!;

    private static readonly System.Reflection.PropertyInfo SendBack = GossipType.GetProperty("SendBack")!,
        UpdatedData = GossipType.GetProperty("UpdatedData")!,
        ToSystemUid = GossipType.GetProperty("ToSystemUid")!,
        FromSystemUid = GossipType.GetProperty("FromSystemUid")!;

    /// <summary>
    /// Akka's gossip message, field for field as Akka 1.5.73 writes it (<c>bool sendBack = 1; repeated Entry entries = 2;
    /// sfixed64 toSystemUid = 3; sfixed64 fromSystemUid = 4;</c> and a flag each that a uid is known, 5 and 6; an entry
    /// <c>string key = 1; DataEnvelope envelope = 2;</c>, each envelope as Akka writes it; RemotingPathCostTests compares
    /// the bytes) in a gzip stream of stored blocks.
    /// </summary>
    private byte[] Stored(object gossip)
    {
        var packed = new MemoryStream();
        using (var gzip = new GZipStream(packed, CompressionLevel.NoCompression, leaveOpen: true))
        using (var proto = new CodedOutputStream(gzip, leaveOpen: true))
        {
            if ((bool)SendBack.GetValue(gossip)!)
            {
                proto.WriteTag(1, WireFormat.WireType.Varint);
                proto.WriteBool(true);
            }
            foreach (var (key, envelope) in (IEnumerable<KeyValuePair<string, DataEnvelope>>)UpdatedData.GetValue(gossip)!)
            {
                var data = UnsafeByteOperations.UnsafeWrap(_akka.ToBinary(envelope));
                proto.WriteTag(2, WireFormat.WireType.LengthDelimited);
                proto.WriteLength(1 + CodedOutputStream.ComputeStringSize(key) + 1 + CodedOutputStream.ComputeBytesSize(data));
                proto.WriteTag(1, WireFormat.WireType.LengthDelimited);
                proto.WriteString(key);
                proto.WriteTag(2, WireFormat.WireType.LengthDelimited);
                proto.WriteBytes(data);
            }
            // Each uid, when known, as its value (omitted when 0, as proto3 writes it) and a flag that it is known.
            var to = (long?)ToSystemUid.GetValue(gossip);
            var from = (long?)FromSystemUid.GetValue(gossip);
            if (to is { } toUid and not 0)
            {
                proto.WriteTag(3, WireFormat.WireType.Fixed64);
                proto.WriteSFixed64(toUid);
            }
            if (from is { } fromUid and not 0)
            {
                proto.WriteTag(4, WireFormat.WireType.Fixed64);
                proto.WriteSFixed64(fromUid);
            }
            if (to.HasValue)
            {
                proto.WriteTag(5, WireFormat.WireType.Varint);
                proto.WriteBool(true);
            }
            if (from.HasValue)
            {
                proto.WriteTag(6, WireFormat.WireType.Varint);
                proto.WriteBool(true);
            }
        }
        return packed.ToArray();
    }
}
