using System.Collections;

namespace AkkaL4.Messages.Model;

/// <summary>
/// An immutable list with structural equality, so records that hold lists compare by content
/// (a decoded manifest equals its re-decoded encoding).
/// </summary>
public sealed class Seq<T> : IReadOnlyList<T>, IEquatable<Seq<T>>
{
    public static readonly Seq<T> Empty = new(Array.Empty<T>());

    private readonly T[] _items;

    public Seq(IEnumerable<T> items) => _items = items.ToArray();

    public T this[int index] => _items[index];
    public int Count => _items.Length;
    public bool IsEmpty => _items.Length == 0;

    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)_items).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();

    public bool Equals(Seq<T>? other) =>
        other is not null && _items.AsSpan().SequenceEqual(other._items, EqualityComparer<T>.Default);

    public override bool Equals(object? obj) => obj is Seq<T> other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var item in _items) hash.Add(item);
        return hash.ToHashCode();
    }

    public override string ToString() => "[" + string.Join(", ", _items) + "]";
}

public static class Seq
{
    public static Seq<T> Of<T>(params T[] items) => items.Length == 0 ? Seq<T>.Empty : new Seq<T>(items);
}

/// <summary>
/// An immutable string-to-string map (labels, selectors) that keeps its insertion order for
/// output and compares by content, ignoring order.
/// </summary>
public sealed class Labels : IReadOnlyDictionary<string, string>, IEquatable<Labels>
{
    public static readonly Labels Empty = new(Array.Empty<KeyValuePair<string, string>>());

    private readonly KeyValuePair<string, string>[] _ordered;
    private readonly Dictionary<string, string> _lookup;

    public Labels(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        _ordered = pairs.ToArray();
        _lookup = new Dictionary<string, string>(_ordered.Length, StringComparer.Ordinal);
        foreach (var (k, v) in _ordered) _lookup[k] = v;
    }

    public static Labels Of(params (string Key, string Value)[] pairs) =>
        new(pairs.Select(p => new KeyValuePair<string, string>(p.Key, p.Value)));

    public string this[string key] => _lookup[key];
    public IEnumerable<string> Keys => _ordered.Select(p => p.Key);
    public IEnumerable<string> Values => _ordered.Select(p => p.Value);
    public int Count => _lookup.Count;
    public bool IsEmpty => _lookup.Count == 0;
    public bool ContainsKey(string key) => _lookup.ContainsKey(key);
    public bool TryGetValue(string key, out string value) => _lookup.TryGetValue(key, out value!);

    /// <summary>True when every pair of this map is also in <paramref name="other"/>.</summary>
    public bool IsSubsetOf(IReadOnlyDictionary<string, string> other)
    {
        foreach (var (k, v) in _lookup)
            if (!other.TryGetValue(k, out var ov) || !string.Equals(ov, v, StringComparison.Ordinal)) return false;
        return true;
    }

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, string>>)_ordered).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public bool Equals(Labels? other) => other is not null && Count == other.Count && IsSubsetOf(other);
    public override bool Equals(object? obj) => obj is Labels other && Equals(other);

    public override int GetHashCode()
    {
        var hash = 0;
        foreach (var (k, v) in _lookup) hash ^= HashCode.Combine(k, v);
        return hash;
    }

    public override string ToString() => "{" + string.Join(", ", _ordered.Select(p => $"{p.Key}={p.Value}")) + "}";
}
