using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Runtime.Serialization;
using System.Security.Cryptography;
using System.Text.Json;
using AkkaL4.Messages.Model;

namespace AkkaL4.Messages.Serialization;

/// <summary>
/// A list of resources as the cluster's JSON, worked out once per list object: its hash (<see cref="ModelJson.Hash(IReadOnlyList{Resource})"/>),
/// its size, and its gzip (a member: gzip members one after another read as one stream, so a message that carries the list
/// splices it in rather than encoding the list again). The other way, a namespace's JSON is decoded only when its hash
/// differs from the one last decoded for that namespace: a node that receives a configuration decodes only the namespaces
/// that changed, and gets back the very list it had for the others (so what it made of them, its last-known-good text, is
/// kept too).
/// <para>Lists are never changed once made (the store makes a new one for a namespace that changes), so what is kept stays true.</para>
/// </summary>
public static class ResourceChunks
{
    /// <summary>A list's JSON: hash, size, gzip member (made when first asked for).</summary>
    public sealed class Chunk(Func<string> hash, int bytes, Func<byte[]> gzip)
    {
        private readonly Lazy<string> _hash = new(hash);
        private readonly Lazy<byte[]> _gzip = new(gzip);

        public string Hash => _hash.Value;

        /// <summary>The size of the JSON, before gzip.</summary>
        public int Bytes => bytes;

        public byte[] Gzip => _gzip.Value;
    }

    private static readonly ConditionalWeakTable<IReadOnlyList<Resource>, Chunk> Chunks = new();

    /// <summary>
    /// The list last decoded for each namespace, with its JSON's full SHA-256 digest (computed here, never sent or stored,
    /// so all 32 bytes are compared, not the 16 of a hash). Held here, not weakly: between two revisions nothing else
    /// may hold a node's lists (the replicator drops the older configuration before the route cache reads the newer one).
    /// </summary>
    private static readonly Dictionary<string, (byte[] Digest, IReadOnlyList<Resource> List)> Decoded = new(StringComparer.Ordinal);

    public static Chunk Of(IReadOnlyList<Resource> resources) => Chunks.GetValue(resources, static list =>
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(list, ModelJson.Options);
        // The JSON is held only until its gzip is made (a namespace the writer holds is sent at once).
        var hash = ModelJson.HashOf(json);
        return new Chunk(() => hash, json.Length, () => Gzip(json));
    });

    /// <summary>
    /// A received list's gzip as it came (<paramref name="bytes"/>: its JSON's size), for a message that carries it on; its
    /// hash, if asked for, from the list.
    /// </summary>
    public static void Received(IReadOnlyList<Resource> resources, byte[] gzip, int bytes) =>
        Chunks.AddOrUpdate(resources, new Chunk(() => ModelJson.Hash(resources), bytes, () => gzip));

    /// <summary>The resources of namespace <paramref name="ns"/> as a JSON array, decoded unless the list last decoded for it has the same content.</summary>
    /// <exception cref="SerializationException">It does not decode.</exception>
    public static IReadOnlyList<Resource> Decode(string ns, ReadOnlySpan<byte> json)
    {
        var digest = SHA256.HashData(json);
        lock (Decoded)
        {
            if (Decoded.TryGetValue(ns, out var known) && known.Digest.AsSpan().SequenceEqual(digest)) return known.List;
        }
        Resource[] list;
        try
        {
            list = JsonSerializer.Deserialize<Resource[]>(json, ModelJson.Options) ?? throw new JsonException("null where a list of resources was expected");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            throw new SerializationException(e.Message, e);
        }
        // Its gzip, if it is ever sent on (an entity journaling it), from the list: the JSON is not kept.
        Chunks.AddOrUpdate(list, new Chunk(() => ModelJson.HashOfDigest(digest), json.Length, () => Gzip(JsonSerializer.SerializeToUtf8Bytes<IReadOnlyList<Resource>>(list, ModelJson.Options))));
        lock (Decoded) Decoded[ns] = (digest, list);
        return list;
    }

    /// <summary>Forgets the namespaces a configuration no longer has (<paramref name="held"/>: those it has).</summary>
    public static void Keep(IReadOnlySet<string> held)
    {
        lock (Decoded)
            foreach (var gone in Decoded.Keys.Where(ns => !held.Contains(ns)).ToList()) Decoded.Remove(gone);
    }

    internal static byte[] Gzip(ReadOnlySpan<byte> json)
    {
        var packed = new MemoryStream(json.Length / 4 + 64);
        using (var gzip = new GZipStream(packed, CompressionLevel.Fastest)) gzip.Write(json);
        return packed.ToArray();
    }
}
