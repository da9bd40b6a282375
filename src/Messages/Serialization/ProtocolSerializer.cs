using System.Runtime.Serialization;
using System.Text.Json;
using Akka.Actor;
using Akka.Serialization;
using AkkaL4.Messages.Protocol;

namespace AkkaL4.Messages.Serialization;

/// <summary>
/// The one serializer of AkkaL4's cluster messages: System.Text.Json with a short, fixed manifest per
/// type (never a .NET type name). An unknown manifest is a <see cref="SerializationException"/>.
/// </summary>
public sealed class ProtocolSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.General);

    private static readonly Dictionary<string, Type> Types = new()
    {
        ["wc"] = typeof(WriteConfig),
        ["rr"] = typeof(RemoveResource),
        ["rc"] = typeof(ReadConfig),
        ["wa"] = typeof(WriteAccepted),
        ["wr"] = typeof(WriteRejected),
        ["cr"] = typeof(ConfigAtRevision),
        ["ev"] = typeof(ConfigCommitted),
        ["bc"] = typeof(BatchCommitted),
        ["wn"] = typeof(WriteNamespace),
        ["ns"] = typeof(NamespaceStored),
        ["rn"] = typeof(ReadNamespace),
        ["nc"] = typeof(NamespaceContent),
        ["nw"] = typeof(NamespaceWritten),
    };

    private static readonly Dictionary<Type, string> Manifests = Types.ToDictionary(p => p.Value, p => p.Key);

    public override int Identifier => 4141;

    public override string Manifest(object o) =>
        Manifests.TryGetValue(o.GetType(), out var manifest)
            ? manifest
            : throw new SerializationException($"{o.GetType()} is not an AkkaL4 cluster message");

    public override byte[] ToBinary(object obj) => JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), Options);

    public override object FromBinary(byte[] bytes, string manifest) =>
        Types.TryGetValue(manifest, out var type)
            ? JsonSerializer.Deserialize(bytes, type, Options) ?? throw new SerializationException($"empty {manifest} message")
            : throw new SerializationException($"unknown AkkaL4 manifest '{manifest}'");
}
