using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config;

/// <summary>A resource decoded from a manifest, with where it came from.</summary>
public sealed record DecodedResource(Resource Resource, string Source, int Document, string Location);

public sealed record DecodeResult(IReadOnlyList<DecodedResource> Resources, IReadOnlyList<Diagnostic> Errors)
{
    public bool Ok => Errors.Count == 0;
}

/// <summary>
/// The one decoder: multi-document YAML or JSON (kubectl style) → model records. Every problem is
/// reported with the document, the resource and the field path; decoding goes on after an error so
/// one pass reports them all.
/// </summary>
public static class ManifestDecoder
{
    private static readonly string[] TopLevelFields = ["apiVersion", "kind", "metadata", "spec", "status"];

    public static DecodeResult Decode(string text, string source = "<input>", DecodeLimits? limits = null) => Decode(text, source, limits, null);

    /// <param name="trees">When given, gets each decoded resource's document tree, in the order of the result's resources
    /// (<see cref="FieldPositions"/> finds a field in it).</param>
    /// <param name="work">Adds what the binder looked at (<see cref="WorkCounts.MapEntries"/>).</param>
    internal static DecodeResult Decode(string text, string source, DecodeLimits? limits, List<YamlNode>? trees, WorkCounts? work = null)
    {
        limits ??= DecodeLimits.Default;
        work ??= new WorkCounts();
        var errors = new ErrorList(limits.MaxErrors);
        var resources = new List<DecodedResource>();
        var byteCount = System.Text.Encoding.UTF8.GetByteCount(text);
        if (byteCount > limits.MaxBytes)
        {
            errors.Add(Diagnostic.Error(source, "", $"input is {byteCount} bytes, over the limit of {limits.MaxBytes}", $"{source}:1:1"));
            return new DecodeResult(resources, errors.Capped(source));
        }
        // A byte-order mark (stdin keeps it; File.ReadAllText drops it) is not part of the first key.
        if (text.StartsWith('\uFEFF')) text = text[1..];

        var documents = YamlTreeReader.ReadDocuments(text, limits);
        string[]? lines = null;
        for (var i = 0; i < documents.Count; i++)
        {
            var (root, _, syntaxError) = documents[i];
            if (syntaxError is not null)
            {
                // The text split once, not per error, and read only for the errors shown: 10,000 broken documents of a 4 MiB
                // input were 10,000 splits of all of it.
                var (resource, field) = errors.Keeps
                    ? SyntaxContext.Of(lines ??= text.Split('\n'), source, syntaxError.Position.Line, syntaxError.Position.Column)
                    : (source, "");
                errors.Add(Diagnostic.Error(resource, field, "invalid YAML/JSON: " + syntaxError.Message, $"{source}:{syntaxError.Position}"));
                continue;
            }
            if (root is null) continue;
            var document = i + 1;
            // kubectl accepts a JSON array or a `kind: List` with `items`.
            if (root is ListNode list)
            {
                foreach (var item in list.Items) DecodeDocument(item, source, document, errors, resources, trees, work);
            }
            else if (root is MapNode map && map["kind"] is ScalarNode { Value: "List" } && map["items"] is ListNode items)
            {
                foreach (var item in items.Items) DecodeDocument(item, source, document, errors, resources, trees, work);
            }
            else DecodeDocument(root, source, document, errors, resources, trees, work);
        }
        return new DecodeResult(resources, errors.Capped(source));
    }

    private static void DecodeDocument(YamlNode root, string source, int document, ErrorList errors, List<DecodedResource> resources, List<YamlNode>? trees,
        WorkCounts work)
    {
        var location = $"{source}:{root.Position}";
        var docName = $"document {document}";
        if (root is not MapNode map)
        {
            errors.Add(Diagnostic.Error(docName, "", $"a resource must be a mapping with apiVersion, kind, metadata and spec, got {Describe(root)}", location));
            return;
        }

        var kind = (map["kind"] as ScalarNode)?.Value;
        var apiVersion = (map["apiVersion"] as ScalarNode)?.Value;
        var meta = map["metadata"] as MapNode;
        var name = (meta?["name"] as ScalarNode)?.Value;
        var ns = (meta?["namespace"] as ScalarNode) is { IsNull: false } nsNode ? nsNode.Value : "default";
        var resourceName = kind is not null && !string.IsNullOrEmpty(name) ? $"{Diagnostic.Quote(kind)}/{Diagnostic.Quote(ns)}/{Diagnostic.Quote(name)}" : docName;

        var before = errors.Count;
        if (string.IsNullOrEmpty(kind))
        {
            errors.Add(Diagnostic.Error(resourceName, "kind", "kind is required", location));
            return;
        }
        if (!ResourceKinds.Types.TryGetValue(kind, out var type))
        {
            if (IstioKindNotApplied(kind, apiVersion) is { } istio)
            {
                errors.Add(Diagnostic.Error(resourceName, "kind", istio, At(source, map["kind"]!)));
                return;
            }
            var hint = DidYouMean(kind, ResourceKinds.Types.Keys);
            errors.Add(Diagnostic.Error(resourceName, "kind",
                $"unknown kind '{Diagnostic.Quote(kind)}'{hint}; AkkaL4 reads {string.Join(", ", ResourceKinds.Types.Keys)}", At(source, map["kind"]!)));
            return;
        }
        var versions = ResourceKinds.ApiVersionsOf(kind);
        if (string.IsNullOrEmpty(apiVersion))
            errors.Add(Diagnostic.Error(resourceName, "apiVersion", $"apiVersion is required ({string.Join(", ", versions)})", location));
        else if (!versions.Contains(apiVersion))
            errors.Add(Diagnostic.Error(resourceName, "apiVersion",
                $"unknown apiVersion '{Diagnostic.Quote(apiVersion)}' for {kind}; expected one of {string.Join(", ", versions)}", At(source, map["apiVersion"]!)));
        if (meta is null)
            errors.Add(Diagnostic.Error(resourceName, "metadata", "metadata with a name is required", location));
        else if (string.IsNullOrEmpty(name))
            errors.Add(Diagnostic.Error(resourceName, "metadata.name", "metadata.name is required", At(source, meta)));

        var binder = new Binder(resourceName, source, errors, work);
        binder.ReportDuplicates(map, "");
        foreach (var entry in map.Entries)
        {
            work.MapEntries++;
            if (!TopLevelFields.Contains(entry.Key))
                errors.Add(Diagnostic.Error(resourceName, entry.Key,
                    $"unknown field '{Diagnostic.Quote(entry.Key)}'{(errors.Keeps ? DidYouMean(entry.Key, TopLevelFields) : "")}", $"{source}:{entry.KeyPosition}"));
        }
        var metadata = meta is null ? new ObjectMeta() : (ObjectMeta)binder.BindObject(typeof(ObjectMeta), meta, "metadata");
        var specType = type.GetProperty("Spec")!.PropertyType;
        var specNode = map["spec"];
        object spec;
        if (specNode is null || specNode is ScalarNode { IsNull: true })
            spec = Activator.CreateInstance(specType)!;
        else if (specNode is MapNode specMap)
            spec = binder.BindObject(specType, specMap, "spec");
        else
        {
            errors.Add(Diagnostic.Error(resourceName, "spec", $"expected a mapping, got {Describe(specNode)}", At(source, specNode)));
            spec = Activator.CreateInstance(specType)!;
        }
        if (errors.Count > before) return;

        var resource = (Resource)Activator.CreateInstance(type)!;
        resource = resource with { ApiVersion = apiVersion!, Metadata = metadata };
        type.GetProperty("Spec")!.SetValue(resource, spec);
        resources.Add(new DecodedResource(resource, source, document, location));
        trees?.Add(map);
    }

    internal static string At(string source, YamlNode node) => $"{source}:{node.Position}";

    internal static string Describe(YamlNode node) => node switch
    {
        MapNode => "a mapping",
        ListNode => "a list",
        ScalarNode s when s.IsNull => "null",
        ScalarNode s => $"'{Truncate(s.Value)}'",
        _ => "something else",
    };

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "…";

    /// <summary>Istio kinds a mesh's manifests often carry beside the routing ones, with what each would ask for.</summary>
    private static readonly Dictionary<string, (string Group, string What)> IstioKinds = new(StringComparer.Ordinal)
    {
        ["PeerAuthentication"] = ("security.istio.io", "mutual TLS between workloads"),
        ["AuthorizationPolicy"] = ("security.istio.io", "its allow/deny rules"),
        ["RequestAuthentication"] = ("security.istio.io", "JWT checks"),
        ["Sidecar"] = ("networking.istio.io", "a sidecar's scope"),
        ["EnvoyFilter"] = ("networking.istio.io", "Envoy configuration patches"),
        ["WorkloadGroup"] = ("networking.istio.io", "WorkloadEntries made for VMs"),
        ["ProxyConfig"] = ("networking.istio.io", "proxy settings"),
        ["Telemetry"] = ("telemetry.istio.io", "telemetry settings"),
        ["WasmPlugin"] = ("extensions.istio.io", "Wasm filters"),
    };

    /// <summary>
    /// The refusal of an Istio kind AkkaL4 does not apply (a known one, or another kind of an <c>*.istio.io</c> group), else null.
    /// Refused, like any unknown kind, rather than skipped: an AuthorizationPolicy quietly not enforced would be worse.
    /// </summary>
    private static string? IstioKindNotApplied(string kind, string? apiVersion)
    {
        var group = apiVersion?.Split('/') is [var g, _] && g.EndsWith(".istio.io", StringComparison.Ordinal) ? g : null;
        var known = IstioKinds.TryGetValue(kind, out var k) ? k : ((string Group, string What)?)null;
        // Of an Istio group but not a known kind, a near name is more likely a typo of one AkkaL4 reads.
        if (known is null && (group is null || DidYouMean(kind, ResourceKinds.Types.Keys) != "")) return null;
        var what = known is { } x ? $" ({x.What})" : "";
        return $"kind '{Diagnostic.Quote(kind)}' ({group ?? known!.Value.Group}) is an Istio kind AkkaL4 does not apply: it is rejected, not ignored, "
               + $"so that nothing it asks for{what} is taken to be in force; leave it out of what you give AkkaL4, which routes by "
               + string.Join(", ", ResourceKinds.Types.Keys);
    }

    /// <summary>Longer than this, a name is no typo of a known one (and an edit distance to it costs its length).</summary>
    private const int MaxSuggestible = 64;

    internal static string DidYouMean(string given, IEnumerable<string> known)
    {
        if (given.Length > MaxSuggestible) return "";
        var best = known
            .Select(k => (k, d: string.Equals(k, given, StringComparison.OrdinalIgnoreCase) ? 0 : Levenshtein(k.ToLowerInvariant(), given.ToLowerInvariant())))
            .Where(x => x.d <= Math.Max(2, given.Length / 3))
            .OrderBy(x => x.d)
            .FirstOrDefault();
        return best.k is null ? "" : $" (did you mean '{best.k}'?)";
    }

    private static int Levenshtein(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) prev[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (var j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }

    /// <summary>Binds YAML nodes onto the model's records by reflection, collecting errors with field paths.</summary>
    private sealed class Binder(string resource, string source, ErrorList errors, WorkCounts work)
    {
        private static readonly ConcurrentDictionary<Type, IReadOnlyDictionary<string, PropertyInfo>> FieldCache = new();

        /// <summary>
        /// Each property's nullability, read once: reading it per field was a sixth of decoding 10,000 Services. The
        /// context is not thread-safe (decoding runs on many threads at once), so each read takes its own.
        /// </summary>
        private static readonly ConcurrentDictionary<PropertyInfo, NullabilityInfo> Nullability = new();

        /// <summary>The alias being bound (its position and name), outermost: what lies under it is written at the anchor, and
        /// is placed at the alias, in the resource that uses it.</summary>
        private (Position At, AliasUse Use)? _alias;

        private bool Enter(YamlNode node)
        {
            if (_alias is not null || node.Via is not { } use) return false;
            _alias = (node.Position, use);
            return true;
        }

        private void Error(string path, Position at, string message)
        {
            var note = "";
            if (_alias is { } alias && alias.At != at)
            {
                note = alias.Use.Note(at);
                at = alias.At;
            }
            errors.Add(Diagnostic.Error(resource, path, message + note, $"{source}:{at}"));
        }

        private void Error(string path, YamlNode node, string message) => Error(path, node.Position, message);

        public void ReportDuplicates(MapNode map, string path)
        {
            foreach (var d in map.Duplicates)
                Error(path.Length == 0 ? d.Key : $"{path}.{d.Key}", d.Position, $"duplicate key '{Diagnostic.Quote(d.Key)}' (first at line {d.First.Line})");
        }

        public object BindObject(Type type, MapNode map, string path)
        {
            var entered = Enter(map);
            try { return BindFields(type, map, path); }
            finally { if (entered) _alias = null; }
        }

        private object BindFields(Type type, MapNode map, string path)
        {
            ReportDuplicates(map, path);
            var fields = FieldsOf(type);
            var instance = Activator.CreateInstance(type)!;
            List<(string Key, IReadOnlyDictionary<string, PropertyInfo> Takes)>? emptyParents = null;
            foreach (var entry in map.Entries)
            {
                work.MapEntries++;
                var fieldPath = path.Length == 0 ? entry.Key : $"{path}.{entry.Key}";
                if (!fields.TryGetValue(entry.Key, out var property))
                {
                    // Past the errors shown only counted: a hint per key of a 4 MiB input would be work no one reads.
                    Error(fieldPath, entry.KeyPosition, errors.Keeps
                        ? UnknownField(entry.Key, fields, emptyParents ??= EmptyParents(map, fields))
                        : $"unknown field '{Diagnostic.Quote(entry.Key)}'");
                    continue;
                }
                var value = BindValue(property.PropertyType, Nullability.GetOrAdd(property, p => new NullabilityInfoContext().Create(p)), entry.Value, fieldPath);
                if (value is not null) property.SetValue(instance, value);
            }
            return instance;
        }

        private static string UnknownField(string key, IReadOnlyDictionary<string, PropertyInfo> fields,
            List<(string Key, IReadOnlyDictionary<string, PropertyInfo> Takes)> emptyParents)
        {
            var hint = DidYouMean(key, fields.Keys);
            if (hint.Length == 0 && emptyParents.FirstOrDefault(p => p.Takes.ContainsKey(key)).Key is { } parent)
                hint = $": '{Diagnostic.Quote(parent)}' has no value here and takes a field of this name; indent it under {Diagnostic.Quote(parent)}";
            return $"unknown field '{Diagnostic.Quote(key)}'{hint}" + (hint.Length == 0 && fields.Count <= 8 ? $"; known fields: {string.Join(", ", fields.Keys)}" : "");
        }

        /// <summary>
        /// The keys of this mapping with no value whose type takes fields, with those fields: an unknown key may belong under
        /// one, the usual indentation mistake (<c>destination:</c> with <c>host:</c> under it at the same depth). Found once
        /// per mapping, not per unknown key (that was every key of the mapping per unknown key: 50,000 unknown keys took
        /// minutes); at most one per field of the type, as keys are unique.
        /// </summary>
        private List<(string Key, IReadOnlyDictionary<string, PropertyInfo> Takes)> EmptyParents(MapNode map, IReadOnlyDictionary<string, PropertyInfo> fields)
        {
            var parents = new List<(string, IReadOnlyDictionary<string, PropertyInfo>)>();
            foreach (var e in map.Entries)
            {
                work.MapEntries++;
                if (e.Value is ScalarNode { IsNull: true } && fields.TryGetValue(e.Key, out var p)
                    && (Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType) is { IsClass: true } t && t != typeof(string)
                    && !typeof(System.Collections.IEnumerable).IsAssignableFrom(t))
                    parents.Add((e.Key, FieldsOf(t)));
            }
            return parents;
        }

        internal static IReadOnlyDictionary<string, PropertyInfo> FieldsOf(Type type) => FieldCache.GetOrAdd(type, t =>
            t.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.CanWrite && p.SetMethod!.IsPublic && p.Name != "EqualityContract")
                .ToDictionary(FieldName, p => p, StringComparer.Ordinal));

        /// <summary>Returns null to leave the property at its default (unset or invalid).</summary>
        private object? BindValue(Type type, NullabilityInfo? nullability, YamlNode node, string path)
        {
            var entered = Enter(node);
            try { return BindOne(type, nullability, node, path); }
            finally { if (entered) _alias = null; }
        }

        private object? BindOne(Type type, NullabilityInfo? nullability, YamlNode node, string path)
        {
            if (node is ScalarNode { IsNull: true }) return null;
            var underlying = Nullable.GetUnderlyingType(type) ?? type;

            if (underlying == typeof(string))
                return node is ScalarNode s ? s.Value : Mismatch("a string", node, path);
            if (underlying == typeof(int))
                return node is ScalarNode i && int.TryParse(i.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var iv)
                    ? iv : Mismatch("an integer", node, path);
            if (underlying == typeof(long))
                return node is ScalarNode l && long.TryParse(l.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var lv)
                    ? lv : Mismatch("an integer", node, path);
            if (underlying == typeof(bool))
                return node is ScalarNode { Value: "true" or "false" or "True" or "False" } b
                    ? b.Value is "true" or "True" : Mismatch("true or false", node, path);
            if (underlying == typeof(Duration))
            {
                if (node is not ScalarNode d) return Mismatch("a duration such as 10s or 500ms", node, path);
                if (Duration.TryParse(d.Value, out var dv, out var error)) return dv;
                Error(path, node, d.Value.Length <= Diagnostic.MaxQuoted ? error : $"expected a duration such as 10s or 500ms, got {Describe(node)}");
                return null;
            }
            if (type == typeof(RawValue)) return ToRaw(node);
            if (type == typeof(Labels))
            {
                if (node is not MapNode lm) return Mismatch("a mapping of strings", node, path);
                ReportDuplicates(lm, path);
                var pairs = new List<KeyValuePair<string, string>>();
                foreach (var e in lm.Entries)
                {
                    if (e.Value is ScalarNode sv) pairs.Add(new(e.Key, sv.IsNull ? "" : sv.Value));
                    else Mismatch("a string", e.Value, $"{path}.{e.Key}");
                }
                return new Labels(pairs);
            }
            if (type == typeof(Seq<NamedPort>))
            {
                if (node is not MapNode pm) return Mismatch("a mapping of port names to numbers", node, path);
                ReportDuplicates(pm, path);
                var ports = new List<NamedPort>();
                foreach (var e in pm.Entries)
                {
                    if (e.Value is ScalarNode pv && int.TryParse(pv.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var port))
                        ports.Add(new NamedPort(e.Key, port));
                    else Mismatch("a port number", e.Value, $"{path}.{e.Key}");
                }
                return new Seq<NamedPort>(ports);
            }
            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Seq<>))
            {
                if (node is not ListNode list) return Mismatch("a list", node, path);
                var elementType = type.GetGenericArguments()[0];
                var elementNullable = nullability?.GenericTypeArguments.FirstOrDefault()?.ReadState == NullabilityState.Nullable;
                var items = Array.CreateInstance(elementType, list.Items.Count);
                for (var i = 0; i < list.Items.Count; i++)
                {
                    var itemPath = $"{path}[{i}]";
                    var item = list.Items[i];
                    if (elementType == typeof(RawValue))
                    {
                        items.SetValue(ToRaw(item), i);
                        continue;
                    }
                    if (item is ScalarNode { IsNull: true })
                    {
                        if (!elementNullable) Error(itemPath, item, "null entry");
                        continue;
                    }
                    items.SetValue(BindValue(elementType, null, item, itemPath), i);
                }
                return Activator.CreateInstance(type, items);
            }
            if (type.IsClass && type.Namespace == typeof(Resource).Namespace)
                return node is MapNode m ? BindObject(type, m, path) : Mismatch("a mapping", node, path);
            throw new InvalidOperationException($"the decoder does not know how to read {type.Name} at {path}");
        }

        private object? Mismatch(string expected, YamlNode node, string path)
        {
            Error(path, node, $"expected {expected}, got {Describe(node)}");
            return null;
        }
    }

    /// <summary>
    /// The errors of one input: the first <c>max</c> kept, the rest only counted, so a hostile input
    /// with a million mistakes costs a million counts, not a million messages.
    /// </summary>
    private sealed class ErrorList(int max)
    {
        private readonly List<Diagnostic> _kept = [];
        private string? _firstDropped;

        /// <summary>All errors added, kept or not.</summary>
        public int Count { get; private set; }

        /// <summary>The next error added is kept (shown): worth the work of explaining it.</summary>
        public bool Keeps => _kept.Count < max;

        public void Add(Diagnostic error)
        {
            if (_kept.Count < max) _kept.Add(error);
            else _firstDropped ??= error.Location;
            Count++;
        }

        /// <summary>The errors kept, and one saying how many more there were (located at the first of them).</summary>
        public IReadOnlyList<Diagnostic> Capped(string source) =>
            Count <= _kept.Count ? _kept
                : [.. _kept, Diagnostic.Error(source, "", $"and {Count - _kept.Count} more error(s) not shown (at most {max} per input)", _firstDropped)];
    }

    internal static RawValue ToRaw(YamlNode node) => node switch
    {
        // Every spelling of null (~, null, nothing) is kept as "null", so it writes back the same.
        ScalarNode { IsNull: true } => new RawScalar("null"),
        ScalarNode s => new RawScalar(s.Value, s.Quoted),
        ListNode l => new RawList(new Seq<RawValue>(l.Items.Select(ToRaw))),
        MapNode m => new RawMap(new Seq<RawField>(m.Entries.Select(e => new RawField(e.Key, ToRaw(e.Value))))),
        _ => throw new InvalidOperationException(),
    };

    /// <summary>The manifest key of a model property: its <see cref="FieldAttribute"/>, else camelCase.</summary>
    internal static string FieldName(PropertyInfo p) =>
        p.GetCustomAttribute<FieldAttribute>()?.Name ?? char.ToLowerInvariant(p.Name[0]) + p.Name[1..];

    internal static IReadOnlyDictionary<string, PropertyInfo> FieldsOf(Type type) => Binder.FieldsOf(type);
}
