using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using AkkaL4.Messages.Model;

namespace AkkaL4.Messages.Serialization;

/// <summary>
/// The JSON form of the cluster's messages and of the resource model inside them (typed resources, never YAML). A
/// <see cref="Resource"/> carries its kind in a <c>kind</c> property whose values are <see cref="ResourceKinds.Types"/>'
/// keys, a <see cref="RawValue"/> its form in <c>raw</c> (<c>s</c>, <c>l</c>, <c>m</c>): discriminators of ours, never
/// .NET type names, and a kind not in the table is refused. Computed properties (a resource's <c>Kind</c> and
/// <c>Key</c>, a duration's <c>IsZero</c>) are not written; nulls are left out.
/// </summary>
public static class ModelJson
{
    public static readonly JsonSerializerOptions Options = Create();

    /// <summary>How deep the JSON of a message may nest, written and read alike.</summary>
    public const int MaxDepth = 256;

    private static JsonSerializerOptions Create()
    {
        var resolver = new DefaultJsonTypeInfoResolver();
        resolver.Modifiers.Add(Shape);
        var options = new JsonSerializerOptions(JsonSerializerDefaults.General)
        {
            TypeInfoResolver = resolver,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            // Cluster-internal, never put into a page: no \u002B for every '+' of a base64 certificate.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            Converters = { new SeqConverterFactory(), new LabelsConverter() },
            // Each level of a raw YAML value costs three of JSON (map, entry, raw value): the decoder's 64 levels of YAML
            // (DecodeLimits.MaxDepth) plus the message around them fit, so whatever the admin API accepts can travel.
            MaxDepth = MaxDepth,
        };
        options.MakeReadOnly();
        return options;
    }

    private static void Shape(JsonTypeInfo info)
    {
        if (info.Kind == JsonTypeInfoKind.Object)
        {
            // Get-only properties are computed from the others (Kind, Key, IsZero): written, they would only be ignored back.
            for (var i = info.Properties.Count - 1; i >= 0; i--)
                if (info.Properties[i].Set is null && info.Properties[i].AssociatedParameter is null) info.Properties.RemoveAt(i);
            // Empty lists and maps are most of a manifest's fields; left out, they read back as their initial (empty) value.
            foreach (var p in info.Properties.Where(p => p.AssociatedParameter is null))
            {
                if (p.PropertyType == typeof(Labels)) p.ShouldSerialize = (_, v) => v is Labels { IsEmpty: false };
                else if (p.PropertyType.IsGenericType && p.PropertyType.GetGenericTypeDefinition() == typeof(Seq<>))
                    p.ShouldSerialize = (_, v) => v is System.Collections.IEnumerable e && e.GetEnumerator().MoveNext();
            }
            // A message's resources are written after the rest of it, so the rest reads without them: remoting's reader takes a
            // large message by its head alone (ProtocolSerializer) and its resources are decoded off remoting's threads.
            foreach (var p in info.Properties.Where(p => p.PropertyType == typeof(IReadOnlyList<Resource>))) p.Order = 1;
        }
        if (info.Type == typeof(Resource)) Polymorphic(info, "kind", ResourceKinds.Types.Select(k => (k.Value, k.Key)));
        else if (info.Type == typeof(RawValue)) Polymorphic(info, "raw", [(typeof(RawScalar), "s"), (typeof(RawList), "l"), (typeof(RawMap), "m")]);
    }

    private static void Polymorphic(JsonTypeInfo info, string property, IEnumerable<(Type Type, string Name)> derived)
    {
        info.PolymorphismOptions = new JsonPolymorphismOptions
        {
            TypeDiscriminatorPropertyName = property,
            UnknownDerivedTypeHandling = JsonUnknownDerivedTypeHandling.FailSerialization,
        };
        foreach (var (type, name) in derived) info.PolymorphismOptions.DerivedTypes.Add(new JsonDerivedType(type, name));
    }

    /// <summary>
    /// The hash of a namespace's content (its resources in the store's order): equal content, equal hash, for this
    /// <see cref="HashVersion"/> (which it starts with). Lets the writer and readers tell two contents under one revision apart.
    /// </summary>
    public static string Hash(IReadOnlyList<Resource> resources) => Hash(resources, out _);

    /// <summary>The size of <paramref name="resources"/> as the cluster's JSON (before gzip).</summary>
    public static int Size(IReadOnlyList<Resource> resources) => JsonSerializer.SerializeToUtf8Bytes(resources, Options).Length;

    /// <param name="bytes">The content's size as JSON.</param>
    public static string Hash(IReadOnlyList<Resource> resources, out int bytes)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(resources, Options);
        bytes = json.Length;
        return HashOf(json);
    }

    /// <summary>The hash of a list of resources as this JSON (<paramref name="json"/>: the list's JSON array).</summary>
    public static string HashOf(ReadOnlySpan<byte> json) => HashOfDigest(SHA256.HashData(json));

    /// <summary><see cref="HashOf"/> from the JSON's SHA-256 digest (<paramref name="sha256"/>): its first 16 bytes.</summary>
    public static string HashOfDigest(ReadOnlySpan<byte> sha256) => HashVersion + ":" + Convert.ToHexStringLower(sha256[..16]);

    /// <summary>
    /// The form <see cref="Hash(IReadOnlyList{Resource})"/> hashes: this JSON, labels in ordinal key order. A version that
    /// changes the form (a new property, a converter) changes this too, so its hashes are never compared with older ones.
    /// </summary>
    public const string HashVersion = "v1";

    /// <summary>
    /// The version that made <paramref name="hash"/>: its prefix, "v0" for the bare hex of the version before hashes had one,
    /// null for anything else (an entity's "unreadable").
    /// </summary>
    public static string? VersionOf(string? hash) => hash switch
    {
        null => null,
        { Length: 32 } when hash.All(char.IsAsciiHexDigitLower) => "v0",
        _ when hash.IndexOf(':') is > 0 and var colon => hash[..colon],
        _ => null,
    };

    /// <summary>Two hashes that say the content differs: made by one version, and not equal. Hashes of two versions say nothing.</summary>
    public static bool Differ(string a, string b) => a != b && VersionOf(a) is { } version && version == VersionOf(b);

    private sealed class SeqConverterFactory : JsonConverterFactory
    {
        public override bool CanConvert(Type type) => type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Seq<>);

        public override JsonConverter CreateConverter(Type type, JsonSerializerOptions options) =>
            (JsonConverter)Activator.CreateInstance(typeof(SeqConverter<>).MakeGenericType(type.GetGenericArguments()[0]))!;
    }

    private sealed class SeqConverter<T> : JsonConverter<Seq<T>>
    {
        public override Seq<T> Read(ref Utf8JsonReader reader, Type type, JsonSerializerOptions options)
        {
            var items = JsonSerializer.Deserialize<T[]>(ref reader, options) ?? [];
            return items.Length == 0 ? Seq<T>.Empty : new Seq<T>(items);
        }

        public override void Write(Utf8JsonWriter writer, Seq<T> value, JsonSerializerOptions options)
        {
            writer.WriteStartArray();
            foreach (var item in value) JsonSerializer.Serialize(writer, item, options);
            writer.WriteEndArray();
        }
    }

    /// <summary>A JSON object, in the labels' own order.</summary>
    private sealed class LabelsConverter : JsonConverter<Labels>
    {
        public override Labels Read(ref Utf8JsonReader reader, Type type, JsonSerializerOptions options)
        {
            if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException("labels: expected an object");
            var pairs = new List<KeyValuePair<string, string>>();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                var key = reader.GetString()!;
                reader.Read();
                pairs.Add(new(key, reader.GetString() ?? throw new JsonException($"label {key}: expected a string")));
            }
            return pairs.Count == 0 ? Labels.Empty : new Labels(pairs);
        }

        public override void Write(Utf8JsonWriter writer, Labels value, JsonSerializerOptions options)
        {
            writer.WriteStartObject();
            // Ordinal key order: labels are equal whatever their order, and so must be their JSON and its hash.
            foreach (var (k, v) in value.OrderBy(p => p.Key, StringComparer.Ordinal)) writer.WriteString(k, v);
            writer.WriteEndObject();
        }
    }
}
