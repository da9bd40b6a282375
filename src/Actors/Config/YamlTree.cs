using AkkaL4.Messages.Model;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace AkkaL4.Actors.Config;

/// <summary>Where a node starts in its source text (1-based line and column).</summary>
internal readonly record struct Position(int Line, int Column)
{
    public override string ToString() => $"{Line}:{Column}";
}

/// <summary>A parsed YAML/JSON value with its position, before it is bound to the model.</summary>
internal abstract record YamlNode(Position Position)
{
    /// <summary>Set on the value an alias (<c>*name</c>) stands for, whose <see cref="Position"/> is then the alias's: what
    /// lies under it is shared with the anchor and has the anchor's positions.</summary>
    public AliasUse? Via { get; init; }
}

/// <summary>An alias <c>*name</c> standing for the value anchored (<c>&amp;name</c>) at <paramref name="Anchor"/>.</summary>
internal sealed record AliasUse(string Name, Position Anchor)
{
    /// <summary>What a finding placed at the alias adds: where the field it is about is written.</summary>
    public string Note(Position written)
    {
        // The name clipped short, so that a long one (the message is clipped as a whole) never pushes the positions out.
        var name = Diagnostic.Quote(Name, MaxName);
        return $" (set through alias *{name}; written at {written}, under anchor &{name} at line {Anchor.Line})";
    }

    private const int MaxName = 40;
}

internal sealed record ScalarNode(Position Position, string Value, bool Quoted, string? Tag) : YamlNode(Position)
{
    /// <summary>A plain <c>null</c>, <c>~</c> or empty scalar: the field is unset.</summary>
    public bool IsNull => !Quoted && Tag is null && Value is "" or "~" or "null" or "Null" or "NULL";
}

internal sealed record ListNode(Position Position, IReadOnlyList<YamlNode> Items) : YamlNode(Position);

internal sealed record MapEntry(string Key, Position KeyPosition, YamlNode Value);

/// <summary>A repeated key: the later occurrence is left out of <see cref="MapNode.Entries"/> and reported where the map is bound.</summary>
internal sealed record DuplicateKey(string Key, Position Position, Position First);

internal sealed record MapNode(Position Position, IReadOnlyList<MapEntry> Entries, IReadOnlyList<DuplicateKey> Duplicates) : YamlNode(Position)
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
    /// <summary>
    /// Characters of scalars (keys and values) that alias references may add in total: a few nodes can
    /// each carry megabytes, so a node count alone lets one big anchored string be reused thousands of times.
    /// </summary>
    public long MaxAliasExpansionChars { get; init; } = 1024 * 1024;
    /// <summary>Errors reported per input; the rest are counted in one closing "and N more" error.</summary>
    public int MaxErrors { get; init; } = 100;
    public int MaxDocuments { get; init; } = 10_000;

    public static readonly DecodeLimits Default = new();
}

internal sealed class YamlSyntaxException(string message, Position position, bool stopsInput = false) : Exception(message)
{
    public Position Position { get; } = position;
    /// <summary>A limit was hit: nothing after this point is read.</summary>
    public bool StopsInput { get; } = stopsInput;
}

/// <summary>One document of the input: its tree (null when empty), or the syntax error that spoiled it.</summary>
internal sealed record DocumentRead(YamlNode? Root, Position Start, YamlSyntaxException? Error);

/// <summary>
/// Reads multi-document YAML (JSON is read as YAML: it is a subset) into <see cref="YamlNode"/> trees,
/// rejecting duplicate keys and enforcing <see cref="DecodeLimits"/>.
/// </summary>
internal sealed class YamlTreeReader
{
    private readonly DecodeLimits _limits;
    private readonly Dictionary<string, (YamlNode Node, int Size, long Chars)> _anchors = new();
    private int _aliasBudget;
    private long _aliasCharBudget;
    private int _lineOffset;
    private Position _last = new(1, 1);
    // Where each [ or { being read opened, innermost last: an unclosed one is reported at its bracket, not at the last node read.
    private readonly List<Position> _openFlows = new();

    private YamlTreeReader(DecodeLimits limits)
    {
        _limits = limits;
        _aliasBudget = limits.MaxAliasExpansion;
        _aliasCharBudget = limits.MaxAliasExpansionChars;
    }

    /// <summary>
    /// Documents in order; an empty document yields a null root so document numbers stay true to the
    /// file. The text is split at <c>---</c> lines first, as kubectl does, so a syntax error spoils
    /// only its own document.
    /// </summary>
    public static IReadOnlyList<DocumentRead> ReadDocuments(string text, DecodeLimits limits)
    {
        // JSON allows tabs as whitespace where YAML does not; outside JSON strings a tab is only
        // whitespace, and inside them it must be escaped, so this keeps positions and meaning.
        if (LooksLikeJson(text)) text = text.Replace('\t', ' ');
        var reader = new YamlTreeReader(limits);
        var documents = new List<DocumentRead>();
        foreach (var (chunk, firstLine) in SplitDocuments(text))
        {
            reader._lineOffset = firstLine - 1;
            try
            {
                reader.ReadChunk(chunk, documents);
            }
            catch (YamlSyntaxException e)
            {
                documents.Add(new DocumentRead(null, e.Position, e));
                if (e.StopsInput) break;
            }
            catch (YamlException e) when (reader._openFlows.Count > 0 && e.Message.Contains("While parsing a flow", StringComparison.Ordinal))
            {
                // "did not find expected ',' or ']'": a [ or { never closed, which YamlDotNet finds only where the next
                // line cannot go on it. Reported at the innermost bracket still open, as below.
                documents.Add(reader.Unclosed());
            }
            catch (YamlException e)
            {
                // YamlDotNet marks a tab in the indentation at the start of the mapping, not at the tab.
                var at = e.Message.Contains("tab", StringComparison.Ordinal) && FirstTabIndent(chunk, (int)e.Start.Line) is { } line
                    ? new Position(line + reader._lineOffset, 1)
                    : reader.At(e.Start);
                documents.Add(new DocumentRead(null, at, new YamlSyntaxException(Explained(CleanMessage(e.Message)), at)));
            }
            catch (InvalidOperationException)
            {
                // YamlDotNet's parser says only "Operation is not valid due to the current state of the object" for a
                // flow collection that is never closed; the position is the innermost bracket still open.
                documents.Add(reader.Unclosed());
            }
            catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
            {
                // YamlDotNet reports some other malformed input (bad tags) this way.
                documents.Add(new DocumentRead(null, reader._last, new YamlSyntaxException(e.Message, reader._last)));
            }
        }
        return documents;
    }

    /// <summary>Chunks of the text, each starting at a <c>---</c> line (or the top), with its first line number.</summary>
    /// <remarks>Cut out of the text at the marker lines, not split into lines and joined again (two copies of the text).</remarks>
    private static IEnumerable<(string Chunk, int FirstLine)> SplitDocuments(string text)
    {
        var start = 0; // where the current chunk starts
        var firstLine = 1;
        var line = 1;
        for (var end = text.IndexOf('\n'); end >= 0; end = text.IndexOf('\n', end + 1))
        {
            line++;
            if (!IsDocumentMarker(text.AsSpan(end + 1))) continue;
            yield return (text[start..end], firstLine);
            start = end + 1;
            firstLine = line;
        }
        yield return (text[start..], firstLine);
    }

    /// <summary>
    /// The first line (1-based) of <paramref name="chunk"/>, from <paramref name="from"/> on (where YamlDotNet's mapping
    /// starts), whose indentation holds a tab, if any. Lines of a block scalar (<c>|</c>, <c>&gt;</c>) are content, where
    /// a tab is legal: skipped.
    /// </summary>
    private static int? FirstTabIndent(string chunk, int from)
    {
        var lines = chunk.Split('\n');
        int? scalarParent = null;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var spaces = line.Length - line.TrimStart(' ').Length;
            if (scalarParent is { } parent)
            {
                // Blank, or indented beyond its header's line: still the scalar's content.
                if (line.Trim().Length == 0 || spaces > parent) continue;
                scalarParent = null;
            }
            if (i + 1 >= from && line.Length - line.TrimStart(' ', '\t').Length is > 0 and var indent && line.AsSpan(0, indent).Contains('\t'))
                return i + 1;
            if (BlockScalarHeader.IsMatch(line)) scalarParent = spaces;
        }
        return null;
    }

    /// <summary>A line whose value starts a block scalar: <c>key: |</c>, <c>- &gt;-</c>, <c>key: |2 # comment</c>.</summary>
    private static readonly System.Text.RegularExpressions.Regex BlockScalarHeader =
        new(@"(^\s*|[:-]\s+)[|>][1-9+-]{0,2}\s*(#.*)?\r?$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <param name="line">A line and what follows it.</param>
    private static bool IsDocumentMarker(ReadOnlySpan<char> line) =>
        line.StartsWith("---", StringComparison.Ordinal) && (line.Length == 3 || char.IsWhiteSpace(line[3]));

    private void ReadChunk(string chunk, List<DocumentRead> documents)
    {
        _openFlows.Clear();
        var parser = new Parser(new StringReader(chunk));
        parser.Consume<StreamStart>();
        while (parser.TryConsume<DocumentStart>(out var start))
        {
            if (documents.Count >= _limits.MaxDocuments)
                throw new YamlSyntaxException($"more than {_limits.MaxDocuments} documents", At(start.Start), stopsInput: true);
            _anchors.Clear();
            YamlNode? root = null;
            if (!parser.Accept<DocumentEnd>(out _)) root = ReadNode(parser, 1, out _, out _);
            parser.Consume<DocumentEnd>();
            if (root is ScalarNode { IsNull: true }) root = null;
            documents.Add(new DocumentRead(root, At(start.Start), null));
        }
        parser.Consume<StreamEnd>();
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

    /// <summary>A [ ] or { } left open: at the innermost bracket still open (else the last node read).</summary>
    private DocumentRead Unclosed()
    {
        var at = _openFlows.Count > 0 ? _openFlows[^1] : _last;
        return new DocumentRead(null, at, new YamlSyntaxException("a [ ] or { } collection that starts here is not closed (or what follows it is not YAML)", at));
    }

    /// <summary>YamlDotNet's words for the usual indentation mistakes, with what to look for put first.</summary>
    private static string Explained(string message) =>
        message.Contains("did not find expected key", StringComparison.Ordinal) || message.Contains("mapping values are not allowed in this context", StringComparison.Ordinal)
            ? $"this line is not indented like the keys around it (keys of one mapping line up; a value on the lines below its key goes deeper) [{message}]"
            : message;

    private static string CleanMessage(string message)
    {
        // YamlDotNet prefixes messages with "(Line: 1, Col: 2, Idx: 3) - (Line...): "; the position is reported separately.
        var i = message.LastIndexOf("): ", StringComparison.Ordinal);
        return i >= 0 && message.StartsWith('(') ? message[(i + 3)..] : message;
    }

    private Position At(Mark mark) => new((int)mark.Line + _lineOffset, (int)mark.Column);

    /// <param name="size">Nodes in the tree read, aliases expanded.</param>
    /// <param name="chars">Characters of its scalars (keys included), aliases expanded.</param>
    private YamlNode ReadNode(IParser parser, int depth, out int size, out long chars)
    {
        var current = parser.Current ?? throw new YamlSyntaxException("unexpected end of input", _last);
        _last = At(current.Start);
        if (depth > _limits.MaxDepth)
            throw new YamlSyntaxException($"nesting deeper than {_limits.MaxDepth} levels", _last, stopsInput: true);

        switch (current)
        {
            case AnchorAlias alias:
            {
                parser.MoveNext();
                if (!_anchors.TryGetValue(alias.Value.Value, out var anchored))
                    throw new YamlSyntaxException($"alias *{Diagnostic.Quote(alias.Value.Value)} refers to no anchor", At(alias.Start));
                _aliasBudget -= anchored.Size;
                if (_aliasBudget < 0)
                    throw new YamlSyntaxException($"aliases expand to more than {_limits.MaxAliasExpansion} nodes", At(alias.Start), stopsInput: true);
                _aliasCharBudget -= anchored.Chars;
                if (_aliasCharBudget < 0)
                    throw new YamlSyntaxException($"aliases expand to more than {_limits.MaxAliasExpansionChars} characters", At(alias.Start), stopsInput: true);
                size = anchored.Size;
                chars = anchored.Chars;
                // A copy placed at the alias (the tree under it stays shared): findings on it belong where it is used.
                return anchored.Node with { Position = At(alias.Start), Via = new AliasUse(alias.Value.Value, anchored.Node.Position) };
            }
            case Scalar scalar:
            {
                parser.MoveNext();
                var tag = scalar.Tag.IsEmpty || scalar.Tag.Value is "?" or "!" ? null : scalar.Tag.Value;
                var node = new ScalarNode(At(scalar.Start), scalar.Value, scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded, tag);
                size = 1;
                chars = scalar.Value.Length;
                Remember(scalar.Anchor, node, size, chars);
                return node;
            }
            case SequenceStart seq:
            {
                parser.MoveNext();
                if (seq.Style == SequenceStyle.Flow) _openFlows.Add(At(seq.Start));
                var items = new List<YamlNode>();
                size = 1;
                chars = 0;
                while (!parser.TryConsume<SequenceEnd>(out _))
                {
                    items.Add(ReadNode(parser, depth + 1, out var itemSize, out var itemChars));
                    size += itemSize;
                    chars += itemChars;
                }
                if (seq.Style == SequenceStyle.Flow) _openFlows.RemoveAt(_openFlows.Count - 1);
                var node = new ListNode(At(seq.Start), items);
                Remember(seq.Anchor, node, size, chars);
                return node;
            }
            case MappingStart map:
            {
                parser.MoveNext();
                if (map.Style == MappingStyle.Flow) _openFlows.Add(At(map.Start));
                var entries = new List<MapEntry>();
                List<DuplicateKey>? duplicates = null;
                // A key's first place: found among the entries while they are few (most mappings of a manifest have one to
                // four keys), by a dictionary once there are more. A dictionary per mapping was a tenth of decoding.
                Dictionary<string, Position>? seen = null;
                size = 1;
                chars = 0;
                while (!parser.TryConsume<MappingEnd>(out _))
                {
                    // An aliased key would let one anchored string stand for thousands of keys, each
                    // looked up, compared and quoted: keys are written out.
                    if (parser.Current is AnchorAlias keyAlias)
                        throw new YamlSyntaxException("an alias cannot be a mapping key; write the key out", At(keyAlias.Start));
                    var keyNode = ReadNode(parser, depth + 1, out _, out var keyChars);
                    if (keyNode is not ScalarNode keyScalar)
                        throw new YamlSyntaxException("mapping keys must be plain strings", keyNode.Position);
                    if (keyScalar.Value == "<<" && !keyScalar.Quoted)
                        throw new YamlSyntaxException("merge keys (<<) are not supported; write the fields out", keyNode.Position);
                    var value = ReadNode(parser, depth + 1, out var valueSize, out var valueChars);
                    size += valueSize + 1;
                    chars += keyChars + valueChars;
                    if (FirstPlace(entries, seen, keyScalar.Value) is { } first)
                        (duplicates ??= []).Add(new DuplicateKey(keyScalar.Value, keyNode.Position, first));
                    else
                    {
                        entries.Add(new MapEntry(keyScalar.Value, keyNode.Position, value));
                        if (seen is not null) seen[keyScalar.Value] = keyNode.Position;
                        else if (entries.Count > KeysScanned)
                            seen = entries.ToDictionary(e => e.Key, e => e.KeyPosition, StringComparer.Ordinal);
                    }
                }
                if (map.Style == MappingStyle.Flow) _openFlows.RemoveAt(_openFlows.Count - 1);
                var node = new MapNode(At(map.Start), entries, (IReadOnlyList<DuplicateKey>?)duplicates ?? []);
                Remember(map.Anchor, node, size, chars);
                return node;
            }
            default:
                throw new YamlSyntaxException($"unexpected {current.GetType().Name}", At(current.Start));
        }
    }

    /// <summary>Up to this many keys, a mapping finds a repeated key by scanning its entries.</summary>
    private const int KeysScanned = 8;

    private static Position? FirstPlace(List<MapEntry> entries, Dictionary<string, Position>? seen, string key)
    {
        if (seen is not null) return seen.TryGetValue(key, out var at) ? at : null;
        foreach (var e in entries)
            if (string.Equals(e.Key, key, StringComparison.Ordinal)) return e.KeyPosition;
        return null;
    }

    private void Remember(AnchorName anchor, YamlNode node, int size, long chars)
    {
        if (!anchor.IsEmpty) _anchors[anchor.Value] = (node, size, chars);
    }
}
