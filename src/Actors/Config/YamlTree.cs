using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace AkkaL4.Actors.Config;

/// <summary>Where a node starts in its source text (1-based line and column).</summary>
internal readonly record struct Position(int Line, int Column)
{
    public override string ToString() => $"{Line}:{Column}";
}

/// <summary>A parsed YAML/JSON value with its position, before it is bound to the model.</summary>
internal abstract record YamlNode(Position Position);

internal sealed record ScalarNode(Position Position, string Value, bool Quoted, string? Tag) : YamlNode(Position)
{
    /// <summary>A plain <c>null</c>, <c>~</c> or empty scalar: the field is unset.</summary>
    public bool IsNull => !Quoted && Tag is null && Value is "" or "~" or "null" or "Null" or "NULL";
}

internal sealed record ListNode(Position Position, IReadOnlyList<YamlNode> Items) : YamlNode(Position);

internal sealed record MapEntry(string Key, Position KeyPosition, YamlNode Value);

internal sealed record MapNode(Position Position, IReadOnlyList<MapEntry> Entries) : YamlNode(Position)
{
    public YamlNode? this[string key] => Entries.FirstOrDefault(e => e.Key == key)?.Value;
}

/// <summary>Limits that keep hostile input from exhausting the node.</summary>
public sealed record DecodeLimits
{
    public int MaxBytes { get; init; } = 4 * 1024 * 1024;
    public int MaxDepth { get; init; } = 64;
    /// <summary>Nodes that alias references may add in total (defeats "billion laughs").</summary>
    public int MaxAliasExpansion { get; init; } = 10_000;
    public int MaxDocuments { get; init; } = 10_000;

    public static readonly DecodeLimits Default = new();
}

internal sealed class YamlSyntaxException(string message, Position position) : Exception(message)
{
    public Position Position { get; } = position;
}

/// <summary>
/// Reads multi-document YAML (JSON is read as YAML: it is a subset) into <see cref="YamlNode"/> trees,
/// rejecting duplicate keys and enforcing <see cref="DecodeLimits"/>.
/// </summary>
internal sealed class YamlTreeReader
{
    private readonly DecodeLimits _limits;
    private readonly Dictionary<string, (YamlNode Node, int Size)> _anchors = new();
    private int _aliasBudget;

    private YamlTreeReader(DecodeLimits limits)
    {
        _limits = limits;
        _aliasBudget = limits.MaxAliasExpansion;
    }

    /// <summary>Documents in order; an empty document yields null so document indexes stay true to the file.</summary>
    public static IReadOnlyList<(YamlNode? Root, Position Start)> ReadDocuments(string text, DecodeLimits limits)
    {
        // JSON allows tabs as whitespace where YAML does not; outside JSON strings a tab is only
        // whitespace, and inside them it must be escaped, so this keeps positions and meaning.
        if (LooksLikeJson(text)) text = text.Replace('\t', ' ');
        var reader = new YamlTreeReader(limits);
        var parser = new Parser(new StringReader(text));
        var documents = new List<(YamlNode?, Position)>();
        try
        {
            parser.Consume<StreamStart>();
            while (parser.TryConsume<DocumentStart>(out var start))
            {
                if (documents.Count >= limits.MaxDocuments)
                    throw new YamlSyntaxException($"more than {limits.MaxDocuments} documents", At(start.Start));
                reader._anchors.Clear();
                YamlNode? root = null;
                if (!parser.Accept<DocumentEnd>(out _)) root = reader.ReadNode(parser, 1, out _);
                parser.Consume<DocumentEnd>();
                if (root is ScalarNode { IsNull: true }) root = null;
                documents.Add((root, At(start.Start)));
            }
            parser.Consume<StreamEnd>();
        }
        catch (YamlException e)
        {
            throw new YamlSyntaxException(CleanMessage(e.Message), At(e.Start));
        }
        return documents;
    }

    private static bool LooksLikeJson(string text)
    {
        foreach (var c in text)
        {
            if (char.IsWhiteSpace(c)) continue;
            return c is '{' or '[';
        }
        return false;
    }

    private static string CleanMessage(string message)
    {
        // YamlDotNet prefixes messages with "(Line: 1, Col: 2, Idx: 3) - (Line...): "; the position is reported separately.
        var i = message.LastIndexOf("): ", StringComparison.Ordinal);
        return i >= 0 && message.StartsWith('(') ? message[(i + 3)..] : message;
    }

    private static Position At(Mark mark) => new((int)mark.Line, (int)mark.Column);

    private YamlNode ReadNode(IParser parser, int depth, out int size)
    {
        var current = parser.Current ?? throw new YamlSyntaxException("unexpected end of input", default);
        if (depth > _limits.MaxDepth)
            throw new YamlSyntaxException($"nesting deeper than {_limits.MaxDepth} levels", At(current.Start));

        switch (current)
        {
            case AnchorAlias alias:
            {
                parser.MoveNext();
                if (!_anchors.TryGetValue(alias.Value.Value, out var anchored))
                    throw new YamlSyntaxException($"alias *{alias.Value.Value} refers to no anchor", At(alias.Start));
                _aliasBudget -= anchored.Size;
                if (_aliasBudget < 0)
                    throw new YamlSyntaxException($"aliases expand to more than {_limits.MaxAliasExpansion} nodes", At(alias.Start));
                size = anchored.Size;
                return anchored.Node;
            }
            case Scalar scalar:
            {
                parser.MoveNext();
                var tag = scalar.Tag.IsEmpty || scalar.Tag.Value is "?" or "!" ? null : scalar.Tag.Value;
                var node = new ScalarNode(At(scalar.Start), scalar.Value, scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded, tag);
                size = 1;
                Remember(scalar.Anchor, node, size);
                return node;
            }
            case SequenceStart seq:
            {
                parser.MoveNext();
                var items = new List<YamlNode>();
                size = 1;
                while (!parser.TryConsume<SequenceEnd>(out _))
                {
                    items.Add(ReadNode(parser, depth + 1, out var itemSize));
                    size += itemSize;
                }
                var node = new ListNode(At(seq.Start), items);
                Remember(seq.Anchor, node, size);
                return node;
            }
            case MappingStart map:
            {
                parser.MoveNext();
                var entries = new List<MapEntry>();
                var seen = new Dictionary<string, Position>(StringComparer.Ordinal);
                size = 1;
                while (!parser.TryConsume<MappingEnd>(out _))
                {
                    var keyNode = ReadNode(parser, depth + 1, out _);
                    if (keyNode is not ScalarNode keyScalar)
                        throw new YamlSyntaxException("mapping keys must be plain strings", keyNode.Position);
                    if (keyScalar.Value == "<<" && !keyScalar.Quoted)
                        throw new YamlSyntaxException("merge keys (<<) are not supported; write the fields out", keyNode.Position);
                    if (seen.TryGetValue(keyScalar.Value, out var first))
                        throw new YamlSyntaxException($"duplicate key '{keyScalar.Value}' (first at line {first.Line})", keyNode.Position);
                    seen[keyScalar.Value] = keyNode.Position;
                    var value = ReadNode(parser, depth + 1, out var valueSize);
                    size += valueSize + 1;
                    entries.Add(new MapEntry(keyScalar.Value, keyNode.Position, value));
                }
                var node = new MapNode(At(map.Start), entries);
                Remember(map.Anchor, node, size);
                return node;
            }
            default:
                throw new YamlSyntaxException($"unexpected {current.GetType().Name}", At(current.Start));
        }
    }

    private void Remember(AnchorName anchor, YamlNode node, int size)
    {
        if (!anchor.IsEmpty) _anchors[anchor.Value] = (node, size);
    }
}
