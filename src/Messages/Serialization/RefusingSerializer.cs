using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;

namespace AkkaL4.Messages.Serialization;

/// <summary>
/// Stands in for Akka's default JSON serializer (identifier 1, Newtonsoft with .NET type names in the
/// payload): a peer that sends type-named JSON has it refused instead of instantiated. Nothing of
/// AkkaL4's is serialized that way; its own messages go through <see cref="ProtocolSerializer"/>.
/// </summary>
public sealed class RefusingSerializer(ExtendedActorSystem system) : Serializer(system)
{
    /// <summary>Akka passes the settings of the serializer it replaces (akka.actor.serialization-settings.json); none apply.</summary>
    public RefusingSerializer(ExtendedActorSystem system, Akka.Configuration.Config _) : this(system) { }

    public override int Identifier => 1;

    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj) =>
        throw new SerializationException($"{obj.GetType()} has no serializer bound (type-named JSON is turned off)");

    public override object FromBinary(byte[] bytes, Type type) =>
        throw new SerializationException("type-named JSON (serializer 1) is refused");
}
