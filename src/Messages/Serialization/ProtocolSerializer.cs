using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Runtime.Serialization;
using System.Text.Json;
using Akka.Actor;
using Akka.Serialization;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Events;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Queries;

namespace AkkaL4.Messages.Serialization;

/// <summary>
/// The one serializer of AkkaL4's cluster messages: System.Text.Json (<see cref="ModelJson"/>: typed resources with a
/// <c>kind</c> of ours) with a short, fixed manifest per type (never a .NET type name). An unknown manifest is a
/// <see cref="SerializationException"/>.
/// Bodies over <see cref="CompressAbove"/> bytes are gzipped (configurations compress about tenfold, so a
/// configuration of the admin API's 4 MiB travels in far fewer bytes than a remoting frame holds);
/// JSON never starts with gzip's magic bytes, so plain bodies (older journals) read as before.
/// </summary>
public sealed class ProtocolSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    private static JsonSerializerOptions Options => ModelJson.Options;

    /// <summary>
    /// The manifest of each type. Journaled events keep theirs forever; a message whose shape changes gets a new one,
    /// so a node of another version refuses it (unknown manifest) rather than misreading it.
    /// </summary>
    private static readonly Dictionary<string, Type> Types = new()
    {
        // Retired, never to be given again (an unknown manifest is refused, so nodes of two versions never misread each
        // other): "wc" WriteConfig, "sn" StoreNamespace, "ns" NamespaceStored, "ci" ConfigIndex, "nc" NamespaceContent,
        // as YAML or without a hash (368fc9f and before). Their events' manifests stay, read only (ManifestEvents.cs).
        // Commands to the config writer, and its answers.
        ["wt"] = typeof(WriteConfig),
        ["rr"] = typeof(RemoveResource),
        ["ca"] = typeof(ConfigAccepted),
        ["cj"] = typeof(ConfigRejected),
        ["wj"] = typeof(WriteJournaled),
        ["cu"] = typeof(ConfigUncertain),
        ["cn"] = typeof(ConfigUnavailable),
        // The writer and the RouteTable entities.
        ["st"] = typeof(StoreNamespace),
        ["nt"] = typeof(NamespaceStored),
        // "rn" is retired, never to be given again: ReadNamespace's code until 42e47d8 gave it to RedeliverNamespace, so
        // a node of either version would misread the other's; an unknown manifest is refused instead.
        ["rv"] = typeof(RedeliverNamespace),
        // Events the writer and the entities journal.
        ["cm"] = typeof(ConfigCommitted),
        ["bt"] = typeof(BatchCommitted),
        ["wk"] = typeof(WriterCheckpoint),
        ["nx"] = typeof(NamespaceWritten),
        // The same, as versions before typed resources journaled them (YAML): read, never written.
        ["ev"] = typeof(ManifestConfigCommitted),
        ["bc"] = typeof(ManifestBatchCommitted),
        ["ck"] = typeof(ManifestWriterCheckpoint),
        ["nw"] = typeof(ManifestNamespaceWritten),
        // Queries and what they read.
        ["rc"] = typeof(ReadConfig),
        ["ri"] = typeof(ReadIndex),
        ["ix"] = typeof(ConfigIndex),
        ["rd"] = typeof(ReadNamespace),
        ["nk"] = typeof(NamespaceContent),
        ["mr"] = typeof(MemberRevision),
        ["rw"] = typeof(ReadWriterStatus),
        ["ws"] = typeof(WriterStatus),
        // The whole configuration every node routes by (the replicated register's value).
        ["cc"] = typeof(ConfigContent),
    };

    internal const int CompressAbove = 16 * 1024;

    /// <summary>
    /// The most a gzipped body may expand to: far above the largest configuration the admin API accepts
    /// (4 MiB of manifests, about as much again as typed JSON), far below what a gzip bomb in one 8 MiB remoting
    /// frame would otherwise become (gigabytes).
    /// </summary>
    public const int MaxExpandedBytes = 64 * 1024 * 1024;

    private static readonly Dictionary<Type, string> Manifests = Types.ToDictionary(p => p.Value, p => p.Key);

    public override int Identifier => 4141;

    public override string Manifest(object o) =>
        Manifests.TryGetValue(o.GetType(), out var manifest)
            ? manifest
            : throw new SerializationException($"{o.GetType()} is not an AkkaL4 cluster message");

    /// <summary>
    /// Each replicated configuration's bytes, made once: distributed data serializes the register's value again for
    /// every digest it takes (each time a node stores a revision while a subscriber waits on it), and for gossip to each
    /// node, a whole configuration each time (4 MiB: JSON and gzip, seconds of CPU on a loaded machine). A received one
    /// keeps the bytes it came as, so its digest here is the sender's. A <see cref="ConfigContent"/> is never changed once
    /// made (its list included), so its bytes stay true; they go with it to the GC.
    /// </summary>
    private static readonly ConditionalWeakTable<ConfigContent, byte[]> Encoded = new();

    public override byte[] ToBinary(object obj) =>
        obj is ConfigContent content ? Encoded.GetValue(content, Encode) : Encode(obj);

    private static byte[] Encode(object obj)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), Options);
        if (json.Length <= CompressAbove) return json;
        var packed = new MemoryStream(json.Length / 4);
        using (var gzip = new GZipStream(packed, CompressionLevel.Fastest)) gzip.Write(json);
        return packed.ToArray();
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        // A copy: the caller's array is not ours to keep.
        if (manifest == "cc" && bytes is [0x1f, 0x8b, ..] && LeadingRevision(bytes) is { } revision)
        {
            // A large replicated configuration is read here in remoting's reader, where the heartbeats from its sender wait
            // behind it: only its revision now, the resources when a node first reads them (its route cache, off remoting's
            // threads). Distributed data sends a node copies it already holds (gossip sends a register back to whoever
            // sent it); those are never decoded (measured: 0.8-4.9 s each for 10,000 Services at load 25-45, and heartbeats
            // that late marked members unreachable).
            var kept = bytes.ToArray();
            var content = new ConfigContent(revision, new DecodedLater(() => ((ConfigContent)Decode(kept, manifest)).Resources));
            Encoded.AddOrUpdate(content, kept);
            return content;
        }
        var read = Decode(bytes, manifest);
        if (read is ConfigContent whole) Encoded.AddOrUpdate(whole, bytes.ToArray());
        return read;
    }

    /// <summary>The <c>Revision</c> a gzipped <see cref="ConfigContent"/> starts with (its first property), or null.</summary>
    private static long? LeadingRevision(byte[] gzipped)
    {
        try
        {
            using var gzip = new GZipStream(new MemoryStream(gzipped), CompressionMode.Decompress);
            var head = new byte[64];
            var length = gzip.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            var reader = new Utf8JsonReader(head.AsSpan(0, length), isFinalBlock: false, default);
            return reader.Read() && reader.TokenType == JsonTokenType.StartObject && reader.Read() && reader.TokenType == JsonTokenType.PropertyName
                   && reader.ValueTextEquals("Revision")
                   && reader.Read() && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var revision)
                ? revision
                : null;
        }
        catch (Exception e) when (e is InvalidDataException or JsonException)
        {
            // Read whole below, which says what is wrong with it.
            return null;
        }
    }

    /// <summary>A received configuration's resources, decoded when first read (a decoding error is thrown then, as a <see cref="SerializationException"/>).</summary>
    private sealed class DecodedLater(Func<IReadOnlyList<Resource>> decode) : IReadOnlyList<Resource>
    {
        private readonly Lazy<IReadOnlyList<Resource>> _resources = new(decode);

        public Resource this[int index] => _resources.Value[index];

        public int Count => _resources.Value.Count;

        public IEnumerator<Resource> GetEnumerator() => _resources.Value.GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    private static object Decode(byte[] bytes, string manifest)
    {
        if (!Types.TryGetValue(manifest, out var type)) throw new SerializationException($"unknown AkkaL4 manifest '{manifest}'");
        try
        {
            if (bytes is [0x1f, 0x8b, ..])
            {
                using var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
                return JsonSerializer.Deserialize(Expand(gzip, manifest), type, Options) ?? throw new SerializationException($"empty {manifest} message");
            }
            return JsonSerializer.Deserialize(bytes, type, Options) ?? throw new SerializationException($"empty {manifest} message");
        }
        // An unknown kind, a kind not first in its object, JSON that is not ours: one kind of refusal for remoting and recovery.
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidDataException)
        {
            throw new SerializationException($"{manifest}: {e.Message}", e);
        }
    }

    private static ReadOnlySpan<byte> Expand(GZipStream gzip, string manifest)
    {
        var expanded = new MemoryStream();
        var buffer = new byte[81920];
        for (int read; (read = gzip.Read(buffer)) > 0;)
        {
            if (expanded.Length + read > MaxExpandedBytes)
                throw new SerializationException($"{manifest} message expands past {MaxExpandedBytes} bytes");
            expanded.Write(buffer, 0, read);
        }
        return expanded.GetBuffer().AsSpan(0, (int)expanded.Length);
    }
}
