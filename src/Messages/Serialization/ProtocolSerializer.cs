using System.Diagnostics;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Runtime.Serialization;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.Event;
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
        ["rb"] = typeof(RemoveResources),
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
        // The whole configuration every node routes by (the replicated register's value), by namespace (see EncodeByNamespace).
        ["cg"] = typeof(ConfigContent),
        // The same as one list of resources, as versions before it sent it: read, never written.
        ["cc"] = typeof(ConfigContent),
    };

    internal const int CompressAbove = 16 * 1024;

    /// <summary>
    /// The most a gzipped body may expand to: far above the largest configuration the admin API accepts
    /// (4 MiB of manifests, about as much again as typed JSON), far below what a gzip bomb in one 8 MiB remoting
    /// frame would otherwise become (gigabytes).
    /// </summary>
    public const int MaxExpandedBytes = 64 * 1024 * 1024;

    private static readonly Dictionary<Type, string> Manifests = Types.Where(p => p.Key != "cc").ToDictionary(p => p.Value, p => p.Key);

    public override int Identifier => 4141;

    public override string Manifest(object o) =>
        o is ConfigContent && CameAsCc.TryGetValue(o, out _) ? "cc"
        : Manifests.TryGetValue(o.GetType(), out var manifest)
            ? manifest
            : throw new SerializationException($"{o.GetType()} is not an AkkaL4 cluster message");

    /// <summary>
    /// The configurations that go as one list (<c>cc</c>, as versions before 0.5.0 send and read them): those the writer makes
    /// so while such a node is Up (<see cref="AsOneList"/>), and those that came as <c>cc</c> (a writer of the previous
    /// version), sent on (gossip) as they came, their bytes (kept in <see cref="Encoded"/>) under their own manifest, so the
    /// next node reads them as one list, not as a configuration by namespace without any (review2-s11 #1), and every node's
    /// digest of that revision is the same.
    /// </summary>
    private static readonly ConditionalWeakTable<object, object> CameAsCc = new();

    /// <summary>
    /// Sends <paramref name="content"/> as one list (manifest <c>cc</c>), the form nodes before 0.5.0 read; for a
    /// configuration not yet encoded (its form, like its bytes, is fixed at its first encoding).
    /// </summary>
    public static void AsOneList(ConfigContent content) => CameAsCc.AddOrUpdate(content, "cc");

    /// <summary>
    /// The bytes of each message that may carry a whole configuration or namespace (the admin API's 4 MiB), or a change
    /// list as long (<see cref="ConfigAccepted"/>: 10,000 changes are 760 KB of JSON), made once:
    /// distributed data serializes the register's value again for every digest it takes and for gossip to each node, the
    /// writer sends a namespace again until its entity confirms it, an entity answers every read of it, each a whole
    /// configuration each time (4 MiB: JSON and gzip, seconds of CPU on a loaded machine). Its sender makes them ahead
    /// (<see cref="EncodeNow"/>), so remoting's writer, which the sender's heartbeats to that node wait behind, only copies
    /// them. A received one keeps the bytes it came as, so its digest here is the sender's. These messages are never
    /// changed once made (their lists included), so their bytes stay true; they go with them to the GC.
    /// </summary>
    private static readonly ConditionalWeakTable<object, byte[]> Encoded = new();

    /// <summary>
    /// The messages of <see cref="Encoded"/>'s kind, and their lists that a large one that arrives is read without (see
    /// <see cref="FromBinary"/>), in the order they are written, after the rest of the message (<see cref="ModelJson"/>
    /// writes a message's resources last).
    /// </summary>
    private static readonly Dictionary<Type, string[]> ReadLater = new()
    {
        [typeof(ConfigContent)] = ["Resources"],
        [typeof(WriteConfig)] = ["Resources"],
        [typeof(StoreNamespace)] = ["Resources"],
        [typeof(NamespaceContent)] = ["Resources"],
        // New, last: a writer before it sends none (then read as empty, which IsNew takes for "not said").
        [typeof(ConfigAccepted)] = ["Changes", "Warnings", "New"],
    };

    /// <summary>
    /// Whether <paramref name="message"/>'s bytes are made once and kept (<see cref="Encoded"/>): a message of <see cref="ReadLater"/>'s
    /// kind, or an event the config writer or a route-table entity journals (a batch, a checkpoint holding the whole
    /// configuration, a namespace), which they encode on their own thread (<see cref="EncodeNow"/>) before the journal plugin,
    /// on the .NET pool, takes it: the plugin's encode of a 4 MiB batch held a pool thread 0.58 s while heartbeats waited for
    /// one (rel18).
    /// </summary>
    private static bool EncodedOnce(object message) =>
        ReadLater.ContainsKey(message.GetType()) || message is BatchCommitted or WriterCheckpoint or NamespaceWritten;

    /// <summary>Serializes <paramref name="message"/> now, on the caller's thread, if it is of a kind whose bytes are kept (see <see cref="Encoded"/>).</summary>
    public static void EncodeNow(ActorSystem system, object message)
    {
        if (EncodedOnce(message)) system.Serialization.FindSerializerFor(message).ToBinary(message);
    }

    /// <summary>Whether <paramref name="message"/>'s bytes are made and kept (tests: the journal gets an event already encoded).</summary>
    internal static bool HasBytes(object message) => Encoded.TryGetValue(message, out _);

    public override byte[] ToBinary(object obj) => obj switch
    {
        ConfigContent content => Encoded.GetValue(content, _ => CameAsCc.TryGetValue(content, out object? _) ? Encode(content) : EncodeByNamespace(content)),
        _ when EncodedOnce(obj) => Encoded.GetValue(obj, Encode),
        _ => Encode(obj),
    };

    /// <summary>Encodes or decodes that take this long are logged at Info, with the thread (remoting's reader or writer: heartbeats wait behind them).</summary>
    private static readonly TimeSpan Slow = TimeSpan.FromMilliseconds(100);

    private byte[] Encode(object obj)
    {
        var clock = Stopwatch.StartNew();
        if (Spliced(obj, clock) is { } spliced) return spliced;
        var json = JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), Options);
        if (json.Length <= CompressAbove) return json;
        var packed = new MemoryStream(json.Length / 4);
        using (var gzip = new GZipStream(packed, CompressionLevel.Fastest)) gzip.Write(json);
        Timed("encoded", obj.GetType().Name, json.Length, clock);
        return packed.ToArray();
    }

    /// <summary>
    /// A message whose resource lists are large, as its JSON with each list spliced in as that list's gzip member
    /// (<see cref="ResourceChunks"/>: made once per list, so the namespace the writer journals, sends to its entity and
    /// replicates is encoded once for all of them). Null for any other message: encoded whole.
    /// </summary>
    private byte[]? Spliced(object obj, Stopwatch clock)
    {
        object emptied;
        IReadOnlyList<Resource>[] lists;
        switch (obj)
        {
            case WriteConfig w: (emptied, lists) = (w with { Resources = [] }, [w.Resources]); break;
            case StoreNamespace st: (emptied, lists) = (st with { Resources = [] }, [st.Resources]); break;
            case NamespaceContent n: (emptied, lists) = (n with { Resources = [] }, [n.Resources]); break;
            case NamespaceWritten e: (emptied, lists) = (e with { Resources = [] }, [e.Resources]); break;
            case BatchCommitted b:
                (emptied, lists) = (b with { Namespaces = b.Namespaces.Select(n => n with { Resources = [] }).ToList() }, b.Namespaces.Select(n => n.Resources).ToArray());
                break;
            default: return null;
        }
        var chunks = lists.Select(ResourceChunks.Of).ToList();
        var head = JsonSerializer.SerializeToUtf8Bytes(emptied, obj.GetType(), Options);
        // Small: plain JSON, as any message (every list's chunk is at hand now, for the next message that carries it).
        if (head.Length + chunks.Sum(c => (long)c.Bytes) <= CompressAbove) return null;
        var segments = new List<byte[]>();
        var rest = head.AsSpan();
        foreach (var chunk in chunks)
        {
            // Every list is emptied, so nothing of a resource's (a user's text) is in the head: each "Resources":[] is a list's place.
            var at = rest.IndexOf(EmptyResources);
            if (at < 0) return null;
            var cut = at + EmptyResources.Length - 2;
            segments.Add(ResourceChunks.Gzip(rest[..cut]));
            segments.Add(chunk.Gzip);
            rest = rest[(cut + 2)..];
        }
        segments.Add(ResourceChunks.Gzip(rest));
        var bytes = Concat(segments);
        Timed("encoded", obj.GetType().Name, head.Length + chunks.Sum(c => (long)c.Bytes), clock);
        return bytes;
    }

    private static readonly byte[] EmptyResources = "\"Resources\":[]"u8.ToArray();

    /// <summary>
    /// The gzip member of the one resource list in <paramref name="bytes"/> (a message of <see cref="Spliced"/>'s form, whose
    /// rest is <paramref name="head"/>) and the size of its JSON; null when the message is not in that form (the members
    /// before and after the list are made again here, and must be the message's first and last bytes).
    /// </summary>
    private static (byte[] Gzip, int Bytes)? SplicedList(byte[] bytes, object head)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(head, head.GetType(), Options);
        var at = json.AsSpan().IndexOf(EmptyResources);
        if (at < 0) return null;
        var cut = at + EmptyResources.Length - 2;
        var before = ResourceChunks.Gzip(json.AsSpan(0, cut));
        var after = ResourceChunks.Gzip(json.AsSpan(cut + 2));
        if (bytes.Length <= before.Length + after.Length + 18 || !bytes.AsSpan().StartsWith(before) || !bytes.AsSpan().EndsWith(after)) return null;
        var list = bytes[before.Length..^after.Length];
        // A gzip member ends with the size of what it holds (ISIZE, little-endian).
        return (list, System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(list.AsSpan(list.Length - 4)));
    }

    private static byte[] Concat(List<byte[]> segments)
    {
        var bytes = new byte[segments.Sum(b => b.Length)];
        var at = 0;
        foreach (var segment in segments)
        {
            segment.CopyTo(bytes, at);
            at += segment.Length;
        }
        return bytes;
    }

    /// <summary>
    /// The replicated configuration (manifest <c>cg</c>): <c>{"Revision":N,"Namespaces":[{"Namespace":"a","Resources":[…]},…]}</c>,
    /// each namespace's list spliced in as made once (<see cref="ResourceChunks"/>), so a write of one namespace costs the
    /// writer that namespace's encoding, not the whole configuration's; a node decodes only the namespaces whose content it
    /// does not hold (<see cref="DecodeByNamespace"/>).
    /// </summary>
    private byte[] EncodeByNamespace(ConfigContent content)
    {
        var clock = Stopwatch.StartNew();
        IReadOnlyList<NamespaceResources> namespaces = content.Resources is NamespacedResources grouped
            ? grouped.Namespaces
            : content.Resources.GroupBy(r => r.Metadata.Namespace, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => new NamespaceResources(g.Key, g.ToList())).ToList();
        var chunks = namespaces.Select(n => ResourceChunks.Of(n.Resources)).ToList();
        var bytes = chunks.Sum(c => (long)c.Bytes);
        var start = "{\"Revision\":" + content.Revision.ToString(System.Globalization.CultureInfo.InvariantCulture) + ",\"Namespaces\":[";
        string Head(int i) => (i == 0 ? start : "},") + "{\"Namespace\":" + JsonSerializer.Serialize(namespaces[i].Namespace, Options) + ",\"Resources\":";
        var tail = namespaces.Count == 0 ? start + "]}" : "}]}";
        if (bytes <= CompressAbove)
        {
            var json = new MemoryStream();
            for (var i = 0; i < namespaces.Count; i++)
            {
                json.Write(Encoding.UTF8.GetBytes(Head(i)));
                JsonSerializer.Serialize(json, namespaces[i].Resources, Options);
            }
            json.Write(Encoding.UTF8.GetBytes(tail));
            return json.ToArray();
        }
        var segments = new List<byte[]>();
        for (var i = 0; i < namespaces.Count; i++)
        {
            segments.Add(ResourceChunks.Gzip(Encoding.UTF8.GetBytes(Head(i))));
            segments.Add(chunks[i].Gzip);
        }
        segments.Add(ResourceChunks.Gzip(Encoding.UTF8.GetBytes(tail)));
        var packed = Concat(segments);
        Timed("encoded", nameof(ConfigContent), bytes, clock);
        return packed;
    }

    /// <summary>
    /// <see cref="EncodeByNamespace"/>'s namespaces, each decoded unless this process holds a list of the same content
    /// (<see cref="ResourceChunks.Decode"/>: by the hash of its JSON, which is worked out here, not taken from the sender).
    /// </summary>
    private IReadOnlyList<NamespaceResources> DecodeByNamespace(byte[] bytes)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            using var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
            ReadOnlySpan<byte> json = bytes is [0x1f, 0x8b, ..] ? Expand(gzip, "cg") : bytes;
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = ModelJson.MaxDepth });
            var namespaces = new List<NamespaceResources>();
            var listed = false;
            Expect(ref reader, JsonTokenType.StartObject);
            while (Next(ref reader) == JsonTokenType.PropertyName)
            {
                if (!reader.ValueTextEquals("Namespaces"u8))
                {
                    reader.Read();
                    reader.Skip();
                    continue;
                }
                listed = true;
                Expect(ref reader, JsonTokenType.StartArray);
                while (Next(ref reader) == JsonTokenType.StartObject)
                {
                    string? ns = null;
                    IReadOnlyList<Resource>? resources = null;
                    while (Next(ref reader) == JsonTokenType.PropertyName)
                    {
                        if (reader.ValueTextEquals("Namespace"u8))
                        {
                            Expect(ref reader, JsonTokenType.String);
                            ns = reader.GetString();
                        }
                        else if (reader.ValueTextEquals("Resources"u8))
                        {
                            Expect(ref reader, JsonTokenType.StartArray);
                            var start = (int)reader.TokenStartIndex;
                            reader.Skip();
                            resources = ResourceChunks.Decode(ns ?? throw new JsonException("a namespace's resources before its name"), json[start..(int)reader.BytesConsumed]);
                        }
                        else
                        {
                            reader.Read();
                            reader.Skip();
                        }
                    }
                    namespaces.Add(new NamespaceResources(ns ?? throw new JsonException("a namespace without its name"), resources ?? []));
                }
            }
            // An empty configuration is written "Namespaces":[]: without it, this is not a configuration by namespace (a cc
            // under the wrong manifest would otherwise be read as one without any resources, and put in force as that revision).
            if (!listed) throw new JsonException("it has no \"Namespaces\"");
            ResourceChunks.Keep(namespaces.Select(n => n.Namespace).ToHashSet(StringComparer.Ordinal));
            Timed("decoded", nameof(ConfigContent), json.Length, clock);
            return namespaces;
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or SerializationException)
        {
            throw new SerializationException($"cg: {e.Message}", e);
        }
    }

    private static JsonTokenType Next(ref Utf8JsonReader reader) =>
        reader.Read() ? reader.TokenType : throw new JsonException("the configuration ends early");

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type)
    {
        if (Next(ref reader) != type) throw new JsonException($"expected {type}, found {reader.TokenType} at byte {reader.TokenStartIndex}");
    }

    /// <summary>The revision of a configuration of <see cref="EncodeByNamespace"/>'s form, read from its first bytes (its first property).</summary>
    private static long RevisionOf(byte[] bytes)
    {
        try
        {
            var head = bytes;
            var length = bytes.Length;
            if (bytes is [0x1f, 0x8b, ..])
            {
                using var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
                head = new byte[HeadBytes];
                length = gzip.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            }
            var reader = new Utf8JsonReader(head.AsSpan(0, length), isFinalBlock: false, default);
            Expect(ref reader, JsonTokenType.StartObject);
            if (Next(ref reader) == JsonTokenType.PropertyName && reader.ValueTextEquals("Revision"u8))
            {
                Expect(ref reader, JsonTokenType.Number);
                return reader.GetInt64();
            }
            throw new JsonException("its first property is not its revision");
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or FormatException)
        {
            throw new SerializationException($"cg: {e.Message}", e);
        }
    }

    private void Timed(string what, string message, long bytes, Stopwatch clock)
    {
        if (clock.Elapsed >= Slow)
            system.Log.Info("serializer: {0} {1} of {2} bytes as JSON in {3:0} ms for {4}", what, message, bytes, clock.Elapsed.TotalMilliseconds, Caller());
    }

    /// <summary>
    /// Who asked for a slow encode or decode: the first type on the stack outside serialization and .NET (Akka.Remote's
    /// reader or writer, a persistence journal, an actor reading a message's resources). Every thread of the process is
    /// the .NET thread pool's, so the thread's name would not say.
    /// </summary>
    private static string Caller() => new StackTrace().GetFrames().Select(f => f.GetMethod()?.DeclaringType).OfType<Type>()
        .Select(t => t.FullName ?? t.Name)
        .FirstOrDefault(n => !n.StartsWith("System.", StringComparison.Ordinal) && !n.StartsWith("AkkaL4.Messages.", StringComparison.Ordinal)
                             && !n.StartsWith("Akka.Serialization.", StringComparison.Ordinal)) ?? "(unknown)";

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (manifest == "cg")
        {
            // Read as far as its revision: its namespaces when the node first reads them (off remoting's threads), and
            // only those whose content this process does not already hold (every copy gossip sends back: none).
            var kept = bytes.ToArray();
            var content = new ConfigContent(RevisionOf(kept), new NamespacedResources(() => DecodeByNamespace(kept)));
            Encoded.AddOrUpdate(content, kept);
            return content;
        }
        // A large message carrying resources (or changes) is read here in remoting's reader, where the heartbeats from its
        // sender wait behind it: only the rest of it now, the lists when they are first read (a node's route cache, the
        // writer, an entity, a reader, the admin API: off remoting's threads). Distributed data sends a node copies it already holds
        // (gossip sends a register back to whoever sent it), the writer a namespace its entity already has: those are never
        // decoded (measured: 0.8-4.9 s each for 10,000 Services at load 25-45, and heartbeats that late marked members unreachable).
        if (bytes is [0x1f, 0x8b, ..] && Types.TryGetValue(manifest, out var type) && Head(bytes, type) is { } head)
        {
            // A copy: the caller's array is not ours to keep.
            var kept = bytes.ToArray();
            var whole = new Lazy<object>(() => Decode(kept, manifest));
            IReadOnlyList<T> Later<T>(Func<object, IReadOnlyList<T>> list) => new DecodedLater<T>(() => list(whole.Value));
            var message = head switch
            {
                ConfigContent c => c with { Resources = Later(m => ((ConfigContent)m).Resources) },
                WriteConfig w => w with { Resources = Later(m => ((WriteConfig)m).Resources) },
                StoreNamespace s => s with { Resources = Later(m => ((StoreNamespace)m).Resources) },
                NamespaceContent n => n with { Resources = Later(m => ((NamespaceContent)m).Resources) },
                ConfigAccepted a => a with
                {
                    Changes = Later(m => ((ConfigAccepted)m).Changes), Warnings = Later(m => ((ConfigAccepted)m).Warnings),
                    New = Later(m => ((ConfigAccepted)m).New ?? []),
                },
                _ => head,
            };
            Encoded.AddOrUpdate(message, kept);
            if (manifest == "cc") CameAsCc.AddOrUpdate(message, manifest);
            // A namespace for its entity, which journals it: the gzip of its resources as they came, so the journal splices it in
            // rather than encoding the namespace again (4 MiB: 0.1 s of CPU, 0.6 s at load 25).
            if (message is StoreNamespace store && SplicedList(kept, head) is { } came) ResourceChunks.Received(store.Resources, came.Gzip, came.Bytes);
            return message;
        }
        var read = Decode(bytes, manifest);
        // Read back from a journal, the writer's events are not sent on: their bytes are not kept.
        if (ReadLater.ContainsKey(read.GetType())) Encoded.AddOrUpdate(read, bytes.ToArray());
        if (manifest == "cc") CameAsCc.AddOrUpdate(read, manifest);
        return read;
    }

    /// <summary>How much of a gzipped message is read for its head: its scalars (a revision, a namespace's name, a hash, a deadline).</summary>
    private const int HeadBytes = 4096;

    /// <summary>
    /// A gzipped message of <see cref="ReadLater"/>'s kind with those lists empty, read from its head: every other property
    /// of <paramref name="type"/> must come before them (as <see cref="ModelJson"/> writes them; a sender that wrote them in
    /// another order is read whole). Null when it is not such a message, or its head does not read.
    /// </summary>
    private static object? Head(byte[] gzipped, Type type)
    {
        if (!ReadLater.TryGetValue(type, out var later)) return null;
        try
        {
            using var gzip = new GZipStream(new MemoryStream(gzipped), CompressionMode.Decompress);
            var head = new byte[HeadBytes];
            var length = gzip.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            var reader = new Utf8JsonReader(head.AsSpan(0, length), isFinalBlock: false, default);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals(later[0]))
                {
                    if (!seen.SetEquals(HeadProperties[type])) return null;
                    // The head as it was, the lists empty: the message without them.
                    var empty = Encoding.UTF8.GetBytes(string.Join(",", later.Select(name => $"\"{name}\":[]")) + "}");
                    var json = new byte[reader.TokenStartIndex + empty.Length];
                    head.AsSpan(0, (int)reader.TokenStartIndex).CopyTo(json);
                    empty.CopyTo(json.AsSpan((int)reader.TokenStartIndex));
                    return JsonSerializer.Deserialize(json, type, Options);
                }
                seen.Add(reader.GetString()!);
                if (!reader.Read() || reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray) return null;
            }
            return null;
        }
        catch (Exception e) when (e is InvalidDataException or JsonException or NotSupportedException)
        {
            // Read whole, which says what is wrong with it.
            return null;
        }
    }

    /// <summary>The properties of each message of <see cref="ReadLater"/>'s kind other than those lists, as its JSON names them.</summary>
    private static readonly Dictionary<Type, HashSet<string>> HeadProperties = ReadLater.ToDictionary(p => p.Key,
        p => Options.GetTypeInfo(p.Key).Properties.Select(q => q.Name).Except(p.Value).ToHashSet(StringComparer.Ordinal));

    /// <summary>A received message's list, decoded when first read (a decoding error is thrown then, as a <see cref="SerializationException"/>).</summary>
    private sealed class DecodedLater<T>(Func<IReadOnlyList<T>> decode) : IReadOnlyList<T>
    {
        private readonly Lazy<IReadOnlyList<T>> _items = new(decode);

        public T this[int index] => _items.Value[index];

        public int Count => _items.Value.Count;

        public IEnumerator<T> GetEnumerator() => _items.Value.GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    private object Decode(byte[] bytes, string manifest)
    {
        if (!Types.TryGetValue(manifest, out var type)) throw new SerializationException($"unknown AkkaL4 manifest '{manifest}'");
        try
        {
            if (bytes is [0x1f, 0x8b, ..])
            {
                var clock = Stopwatch.StartNew();
                using var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
                var json = Expand(gzip, manifest);
                var read = JsonSerializer.Deserialize(json, type, Options) ?? throw new SerializationException($"empty {manifest} message");
                Timed("decoded", type.Name, json.Length, clock);
                return read;
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
