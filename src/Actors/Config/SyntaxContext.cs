using System.Text.RegularExpressions;

namespace AkkaL4.Actors.Config;

/// <summary>
/// For a YAML syntax error, which resource and field it is in, read from the text itself (there is no tree to read them
/// from): the document's <c>kind</c> and <c>metadata.name</c>/<c>namespace</c> (before or after the error: the document
/// ends at the next <c>---</c>), and the keys that enclose the error's line by indentation, with the index of each list
/// item on the way (<c>spec.tcp[1].route</c>, counting the items before it). So a syntax error names its resource and
/// field path as every other error does, where the reader can find them; when the text does not say, the source and no field.
/// </summary>
internal static partial class SyntaxContext
{
    [GeneratedRegex(@"^kind:\s*[""']?([A-Za-z][A-Za-z0-9]*)")]
    private static partial Regex Kind();
    [GeneratedRegex(@"^metadata:\s*\{(.*)")]
    private static partial Regex FlowMetadata();
    [GeneratedRegex(@"\b(name|namespace):\s*[""']?([a-z0-9][a-z0-9.-]*)")]
    private static partial Regex NameOrNamespace();
    [GeneratedRegex(@"^(\s*)(?:-\s+)?([A-Za-z0-9_.""'-]+):\s*(?:#.*)?$")]
    private static partial Regex KeyWithoutValue();
    [GeneratedRegex(@"^\s*(?:-\s+)?([A-Za-z0-9_-]+):\s")]
    private static partial Regex KeyOnLine();

    [GeneratedRegex(@"^(\s*)-(?:\s|$)")]
    private static partial Regex ListItem();

    /// <param name="lines">The input's text split at '\n'.</param>
    public static (string Resource, string Field) Of(string[] lines, string source, int line, int column)
    {
        var end = Math.Min(line - 1, lines.Length);
        var start = 0;
        for (var i = end - 1; i >= 0; i--)
            if (lines[i].StartsWith("---", StringComparison.Ordinal)) { start = i + 1; break; }
        var last = lines.Length - 1;
        for (var i = end + 1; i < lines.Length; i++)
            if (lines[i].StartsWith("---", StringComparison.Ordinal)) { last = i - 1; break; }

        string? kind = null, name = null, ns = null;
        var inMetadata = false;
        // The whole document: "metadata: {name: a, labels: {..." names its resource before the bracket left open, and a
        // document may well give its kind and name after the mistake.
        for (var i = start; i <= last; i++)
        {
            var l = lines[i].TrimEnd('\r');
            if (Kind().Match(l) is { Success: true } k) kind ??= k.Groups[1].Value;
            if (l.Length > 0 && !char.IsWhiteSpace(l[0])) inMetadata = l.StartsWith("metadata:", StringComparison.Ordinal);
            var metadata = FlowMetadata().Match(l) is { Success: true } flow ? flow.Groups[1].Value
                : inMetadata && l.Length > 0 && char.IsWhiteSpace(l[0]) && l.Length - l.TrimStart().Length <= 2 ? l : null;
            if (metadata is null) continue;
            foreach (Match m in NameOrNamespace().Matches(metadata))
                if (m.Groups[1].Value == "name") name ??= m.Groups[2].Value;
                else ns ??= m.Groups[2].Value;
        }
        var resource = kind is not null && name is not null ? $"{kind}/{ns ?? "default"}/{name}" : source;

        // The keys enclosing the line: each earlier key with no value on its line, less indented than what it holds. A list
        // item ("- ") less indented than the line holds it: its index is the count of items at its indentation between it
        // and the list's key (at the items' indentation or less), so the key reads "tcp[1]".
        var keys = new List<string>();
        var indent = end < lines.Length ? Indent(lines[end]) : 0;
        (int Dash, int Count)? list = end < lines.Length && ListItem().Match(lines[end]) is { Success: true } own ? (own.Groups[1].Length, 0) : null;
        for (var i = end - 1; i >= start && (indent > 0 || list is not null); i--)
        {
            var row = lines[i].TrimEnd('\r');
            if (row.Trim().Length == 0 || row.TrimStart().StartsWith('#')) continue;
            var dash = ListItem().Match(row) is { Success: true } item ? item.Groups[1].Length : (int?)null;
            if (list is { } open && dash == open.Dash)
            {
                list = open with { Count = open.Count + 1 };
                continue;
            }
            // A key with its value on its line holds nothing below it; its indentation is the key's own (after any "- ").
            if (KeyWithoutValue().Match(row) is { Success: true } key)
            {
                var at = row.Length - (dash is null ? row.TrimStart() : row.TrimStart().TrimStart('-').TrimStart()).Length;
                var keyName = key.Groups[2].Value.Trim('"', '\'');
                if (list is { } held && at <= held.Dash)
                {
                    keys.Add($"{keyName}[{held.Count}]");
                    list = null;
                    indent = at;
                }
                else if (list is null && at < indent)
                {
                    keys.Add(keyName);
                    indent = at;
                }
            }
            if (dash is { } d && d < indent && list is null) list = (d, 0);
        }
        keys.Reverse();
        // The error inside the value of the line's own key (an unclosed [ after "hosts:"): that key too.
        if (end < lines.Length && KeyOnLine().Match(lines[end]) is { Success: true } ownKey && column > ownKey.Length)
            keys.Add(ownKey.Groups[1].Value);
        return (resource, string.Join('.', keys));
    }

    private static int Indent(string line) => line.Length - line.TrimStart(' ').Length;
}
