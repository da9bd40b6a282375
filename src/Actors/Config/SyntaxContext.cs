using System.Text.RegularExpressions;

namespace AkkaL4.Actors.Config;

/// <summary>
/// For a YAML syntax error, which resource and field it is in, read from the text itself (there is no tree to read them
/// from): the document's <c>kind</c> and <c>metadata.name</c>/<c>namespace</c> as far as they come before the error, and
/// the keys that enclose the error's line by indentation. So a syntax error names its resource and field path as every
/// other error does, where the reader can find them; when the text does not say, the source and no field.
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

    public static (string Resource, string Field) Of(string text, string source, int line, int column)
    {
        var lines = text.Split('\n');
        var end = Math.Min(line - 1, lines.Length);
        var start = 0;
        for (var i = end - 1; i >= 0; i--)
            if (lines[i].StartsWith("---", StringComparison.Ordinal)) { start = i + 1; break; }

        string? kind = null, name = null, ns = null;
        var inMetadata = false;
        // The error's own line too: "metadata: {name: a, labels: {..." names its resource before the bracket left open.
        for (var i = start; i <= end && i < lines.Length; i++)
        {
            var l = lines[i].TrimEnd('\r');
            if (Kind().Match(l) is { Success: true } k) kind = k.Groups[1].Value;
            if (l.Length > 0 && !char.IsWhiteSpace(l[0])) inMetadata = l.StartsWith("metadata:", StringComparison.Ordinal);
            var metadata = FlowMetadata().Match(l) is { Success: true } flow ? flow.Groups[1].Value
                : inMetadata && l.Length > 0 && char.IsWhiteSpace(l[0]) && l.Length - l.TrimStart().Length <= 2 ? l : null;
            if (metadata is null) continue;
            foreach (Match m in NameOrNamespace().Matches(metadata))
                if (m.Groups[1].Value == "name") name ??= m.Groups[2].Value;
                else ns ??= m.Groups[2].Value;
        }
        var resource = kind is not null && name is not null ? $"{kind}/{ns ?? "default"}/{name}" : source;

        // The keys enclosing the line: each earlier key with no value on its line, less indented than what it holds.
        var keys = new List<string>();
        var indent = end < lines.Length ? Indent(lines[end]) : 0;
        for (var i = end - 1; i >= start && indent > 0; i--)
        {
            if (lines[i].Trim().Length == 0 || lines[i].TrimStart().StartsWith('#')) continue;
            var at = Indent(lines[i]);
            if (at >= indent) continue;
            // A key with its value on its line, or a list item, holds nothing below it.
            if (KeyWithoutValue().Match(lines[i].TrimEnd('\r')) is not { Success: true } key) continue;
            keys.Add(key.Groups[2].Value.Trim('"', '\''));
            indent = at;
        }
        keys.Reverse();
        // The error inside the value of the line's own key (an unclosed [ after "hosts:"): that key too.
        if (end < lines.Length && KeyOnLine().Match(lines[end]) is { Success: true } own && column > own.Length)
            keys.Add(own.Groups[1].Value);
        return (resource, string.Join('.', keys));
    }

    private static int Indent(string line) => line.Length - line.TrimStart(' ').Length;
}
