using System.Collections;
using AkkaL4.Messages.Events;
using AkkaL4.Messages.Protocol;

namespace AkkaL4.Messages.Model;
/// <summary>
/// A whole configuration at <see cref="Revision"/>, each resource carrying its resourceVersion: what the writer replicates
/// to every node (the value of its Akka.DistributedData register) and what a node puts in force. The writer's
/// <see cref="Resources"/> are <see cref="NamespacedResources"/>: each namespace's list, the same object for as long as the
/// namespace does not change, so what is made of a namespace (its encoding, a node's decoding of it, its last-known-good
/// text) is made once per change of that namespace, not once per revision.
/// </summary>
public sealed record ConfigContent(long Revision, IReadOnlyList<Resource> Resources) : IClusterMessage;

/// <summary>
/// A configuration's resources as its namespaces' lists one after the other, in namespace order (ordinal), each as its
/// store orders it. The lists may be read later (<paramref name="read"/>: a received configuration decodes them when
/// first read; an error is thrown then, and again at every read).
/// </summary>
public sealed class NamespacedResources(Func<IReadOnlyList<NamespaceResources>> read) : IReadOnlyList<Resource>
{
    private readonly Lazy<(IReadOnlyList<NamespaceResources> Namespaces, int[] Ends)> _parts = new(() =>
    {
        var namespaces = read();
        var ends = new int[namespaces.Count];
        for (int i = 0, end = 0; i < namespaces.Count; i++) ends[i] = end += namespaces[i].Resources.Count;
        return (namespaces, ends);
    });

    public NamespacedResources(IReadOnlyList<NamespaceResources> namespaces) : this(() => namespaces)
    {
    }

    /// <summary>Each namespace's resources (a namespace without any may be left out).</summary>
    public IReadOnlyList<NamespaceResources> Namespaces => _parts.Value.Namespaces;

    public int Count => _parts.Value.Ends is { Length: > 0 } ends ? ends[^1] : 0;

    public Resource this[int index]
    {
        get
        {
            var (namespaces, ends) = _parts.Value;
            if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index));
            // The first namespace that ends after index.
            var i = Array.BinarySearch(ends, index + 1);
            if (i < 0) i = ~i;
            while (i > 0 && ends[i - 1] > index) i--;
            return namespaces[i].Resources[index - (i == 0 ? 0 : ends[i - 1])];
        }
    }

    public IEnumerator<Resource> GetEnumerator() => Namespaces.SelectMany(n => n.Resources).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
