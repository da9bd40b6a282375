namespace AkkaL4.Actors.Config;

/// <summary>Where a finding is placed, and what its message adds (a field set through an alias: where it is written).</summary>
internal readonly record struct FieldPlace(Position Position, string Note)
{
    public override string ToString() => Position.ToString();
}

/// <summary>
/// Where a field path (<c>spec.tcp[0].route[1].weight</c>, as diagnostics name fields) is in a resource's document tree:
/// validation and analysis work on the bound model, which keeps no positions, so their findings are placed by walking the
/// tree the decoder bound, once per finding, instead of keeping a position for every field of every resource.
/// </summary>
internal static class FieldPositions
{
    /// <summary>The position of the field's key (a list item's own position), or of the nearest ancestor the tree has (a
    /// field that is missing, an index past the list's end). A field under an alias (<c>*name</c>) is placed at the alias,
    /// in the resource that uses it, with a note saying where it is written.</summary>
    public static FieldPlace Find(YamlNode root, string path)
    {
        var node = root;
        var at = root.Position;
        (Position At, AliasUse Use)? alias = null;
        var i = 0;
        while (i < path.Length)
        {
            if (alias is null && node.Via is { } use) alias = (node.Position, use);
            if (path[i] == '[')
            {
                var close = path.IndexOf(']', i);
                if (close < 0 || node is not ListNode list || !int.TryParse(path.AsSpan(i + 1, close - i - 1), out var index)
                    || index < 0 || index >= list.Items.Count) break;
                node = list.Items[index];
                at = node.Position;
                i = close + 1;
            }
            else
            {
                if (node is not MapNode map || Key(map, path, i) is not { } entry) break;
                node = entry.Value;
                at = entry.KeyPosition;
                i += entry.Key.Length;
            }
            if (i < path.Length && path[i] == '.') i++;
        }
        return alias is { } a && a.At != at ? new FieldPlace(a.At, a.Use.Note(at)) : new FieldPlace(at, "");
    }

    /// <summary>The longest key of the map that the path names at <paramref name="start"/>: keys may hold dots themselves
    /// (labels such as <c>app.kubernetes.io/name</c>, locality names).</summary>
    private static MapEntry? Key(MapNode map, string path, int start)
    {
        MapEntry? best = null;
        foreach (var entry in map.Entries)
        {
            var end = start + entry.Key.Length;
            if (entry.Key.Length == 0 || end > path.Length || string.CompareOrdinal(path, start, entry.Key, 0, entry.Key.Length) != 0) continue;
            if (end < path.Length && path[end] is not ('.' or '[')) continue;
            if (best is null || entry.Key.Length > best.Key.Length) best = entry;
        }
        return best;
    }
}
