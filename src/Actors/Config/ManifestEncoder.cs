using System.Collections;
using System.Globalization;
using System.Text.RegularExpressions;
using AkkaL4.Messages.Model;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace AkkaL4.Actors.Config;

/// <summary>
/// Writes model records back as manifests (the inverse of <see cref="ManifestDecoder"/>): unset
/// fields and empty lists are left out, so decode → encode → decode gives equal records.
/// </summary>
public static partial class ManifestEncoder
{
    public static string ToYaml(IEnumerable<Resource> resources)
    {
        var writer = new StringWriter();
        var emitter = new Emitter(writer);
        emitter.Emit(new StreamStart());
        foreach (var resource in resources)
        {
            emitter.Emit(new DocumentStart(null, null, isImplicit: false));
            emitter.Emit(new MappingStart());
            Scalar(emitter, "apiVersion");
            Scalar(emitter, resource.ApiVersion);
            Scalar(emitter, "kind");
            Scalar(emitter, resource.Kind);
            Scalar(emitter, "metadata");
            Object(emitter, resource.Metadata);
            Scalar(emitter, "spec");
            Object(emitter, resource.GetType().GetProperty("Spec")!.GetValue(resource)!);
            emitter.Emit(new MappingEnd());
            emitter.Emit(new DocumentEnd(isImplicit: true));
        }
        emitter.Emit(new StreamEnd());
        return writer.ToString();
    }

    /// <summary>A kubectl-style <c>kind: List</c> in JSON, which the decoder reads back.</summary>
    public static string ToJson(IEnumerable<Resource> resources, bool indented = true)
    {
        var buffer = new System.IO.MemoryStream();
        using (var json = new System.Text.Json.Utf8JsonWriter(buffer, new System.Text.Json.JsonWriterOptions { Indented = indented }))
        {
            json.WriteStartObject();
            json.WriteString("apiVersion", "v1");
            json.WriteString("kind", "List");
            json.WritePropertyName("items");
            json.WriteStartArray();
            foreach (var document in YamlTreeReader.ReadDocuments(ToYaml(resources), DecodeLimits.Default))
                if (document.Root is { } root) Json(json, root);
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void Json(System.Text.Json.Utf8JsonWriter json, YamlNode node)
    {
        switch (node)
        {
            case MapNode map:
                json.WriteStartObject();
                foreach (var entry in map.Entries) { json.WritePropertyName(entry.Key); Json(json, entry.Value); }
                json.WriteEndObject();
                break;
            case ListNode list:
                json.WriteStartArray();
                foreach (var item in list.Items) Json(json, item);
                json.WriteEndArray();
                break;
            case ScalarNode { IsNull: true }: json.WriteNullValue(); break;
            case ScalarNode { Quoted: false, Value: "true" or "false" } b: json.WriteBooleanValue(b.Value == "true"); break;
            case ScalarNode { Quoted: false } n when long.TryParse(n.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number):
                json.WriteNumberValue(number);
                break;
            case ScalarNode s: json.WriteStringValue(s.Value); break;
        }
    }

    private static void Object(IEmitter emitter, object value)
    {
        emitter.Emit(new MappingStart());
        foreach (var (key, property) in ManifestDecoder.FieldsOf(value.GetType()))
        {
            var fieldValue = property.GetValue(value);
            if (IsUnset(fieldValue)) continue;
            Scalar(emitter, key);
            Value(emitter, fieldValue!);
        }
        emitter.Emit(new MappingEnd());
    }

    private static bool IsUnset(object? value) => value switch
    {
        null => true,
        ICollection c => c.Count == 0,
        Labels l => l.IsEmpty,
        IReadOnlyCollection<object> c => c.Count == 0,
        _ => value.GetType().IsGenericType && value.GetType().GetGenericTypeDefinition() == typeof(Seq<>)
             && ((IEnumerable)value).Cast<object?>().Any() == false,
    };

    private static void Value(IEmitter emitter, object value)
    {
        switch (value)
        {
            case string s: Scalar(emitter, s); break;
            case int or long: Plain(emitter, Convert.ToString(value, CultureInfo.InvariantCulture)!); break;
            case bool b: Plain(emitter, b ? "true" : "false"); break;
            case Duration d: Plain(emitter, d.ToString()); break;
            case Labels labels:
                emitter.Emit(new MappingStart());
                foreach (var (k, v) in labels) { Scalar(emitter, k); Scalar(emitter, v); }
                emitter.Emit(new MappingEnd());
                break;
            case Seq<NamedPort> ports:
                emitter.Emit(new MappingStart());
                foreach (var p in ports) { Scalar(emitter, p.Name); Plain(emitter, p.Number.ToString(CultureInfo.InvariantCulture)); }
                emitter.Emit(new MappingEnd());
                break;
            case RawValue raw: Raw(emitter, raw); break;
            case IEnumerable items:
                emitter.Emit(new SequenceStart(null, null, false, SequenceStyle.Block));
                foreach (var item in items)
                {
                    if (item is null) Plain(emitter, "null");
                    else Value(emitter, item);
                }
                emitter.Emit(new SequenceEnd());
                break;
            default: Object(emitter, value); break;
        }
    }

    private static void Raw(IEmitter emitter, RawValue raw)
    {
        switch (raw)
        {
            case RawScalar s:
                emitter.Emit(new YamlDotNet.Core.Events.Scalar(null, null, s.Value, s.Quoted ? ScalarStyle.DoubleQuoted : ScalarStyle.Plain, true, true));
                break;
            case RawList l:
                emitter.Emit(new SequenceStart(null, null, false, SequenceStyle.Block));
                foreach (var item in l.Items) Raw(emitter, item);
                emitter.Emit(new SequenceEnd());
                break;
            case RawMap m:
                emitter.Emit(new MappingStart());
                foreach (var f in m.Fields) { Scalar(emitter, f.Key); Raw(emitter, f.Value); }
                emitter.Emit(new MappingEnd());
                break;
        }
    }

    private static void Plain(IEmitter emitter, string text) =>
        emitter.Emit(new YamlDotNet.Core.Events.Scalar(null, null, text, ScalarStyle.Plain, true, false));

    /// <summary>A string: plain when YAML would read it back as the same string, quoted otherwise.</summary>
    private static void Scalar(IEmitter emitter, string text)
    {
        var style = text.Length == 0 || LooksTyped().IsMatch(text) ? ScalarStyle.DoubleQuoted : ScalarStyle.Any;
        emitter.Emit(new YamlDotNet.Core.Events.Scalar(null, null, text, style, true, true));
    }

    [GeneratedRegex(@"^(<<|~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|no|on|off|[-+]?[0-9.]+([eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|\*.*)$")]
    private static partial Regex LooksTyped();
}
