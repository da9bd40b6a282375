using System.Collections.Immutable;
using Akka.Configuration;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// The directories a DestinationRule's TLS files (<c>caCertificates</c>, <c>clientCertificate</c>, <c>privateKey</c>) must be
/// in: <c>akkal4.data-plane.tls-file-roots</c>. Whoever holds an admin token writes those paths and every router node reads
/// them; unconfined, a rule could name any file the node's user can read, and whether connections through it were dialled
/// told whether it exists (review1-s14 R4), while a readable PEM pair named as a client certificate was presented to a host
/// of the writer's choosing. Judged by the path's text alone, nothing on disk looked at: absolute, no <c>.</c> or <c>..</c>
/// segment, inside a root. Links inside a root are followed: only who may write there can make one. An empty list admits
/// nothing. The config writer refuses a write naming another path; a node refuses to read one (a stored rule from before).
/// </summary>
public static class TlsFileRoots
{
    public const string Key = "akkal4.data-plane.tls-file-roots";

    /// <summary>The roots of every node of this process (one in production; tests run several), by node.</summary>
    private static readonly Dictionary<object, ImmutableArray<string>> ByNode = new(ReferenceEqualityComparer.Instance);

    private static volatile string[] _current = [];

    /// <summary>The roots in force in this process: those of every node running in it.</summary>
    public static IReadOnlyList<string> Current => _current;

    /// <summary>The setting, each root without a trailing '/'.</summary>
    /// <exception cref="ConfigurationException">A root that is not an absolute path without '.' and '..' segments.</exception>
    public static ImmutableArray<string> From(Akka.Configuration.Config config)
    {
        var roots = ImmutableArray.CreateBuilder<string>();
        foreach (var entry in config.GetStringList(Key, []))
        {
            var root = entry.Trim();
            if (!root.StartsWith('/') || DotSegment(root))
                throw new ConfigurationException($"{Key}: '{entry}' is not an absolute directory path without '.' and '..' segments");
            roots.Add(root == "/" ? root : root.TrimEnd('/'));
        }
        return roots.ToImmutable();
    }

    /// <summary><paramref name="node"/> runs with <paramref name="roots"/> (null: it stopped).</summary>
    public static void InForce(object node, ImmutableArray<string>? roots)
    {
        lock (ByNode)
        {
            if (roots is { } some) ByNode[node] = some;
            else ByNode.Remove(node);
            _current = ByNode.Values.SelectMany(r => r).Distinct(StringComparer.Ordinal).ToArray();
        }
    }

    /// <summary>The roots <paramref name="node"/> runs with (<see cref="InForce"/>), or those of the process when it has none of its own.</summary>
    public static IReadOnlyList<string> Of(object node)
    {
        lock (ByNode) return ByNode.TryGetValue(node, out var roots) ? roots : Current;
    }

    /// <summary>Why <paramref name="path"/> may not be read under <paramref name="roots"/>, or null when it may.</summary>
    public static string? Refusal(string path, IReadOnlyList<string> roots)
    {
        string why;
        if (!path.StartsWith('/')) why = "is a relative path (each node would read it against its own working directory)";
        else if (DotSegment(path)) why = "has a '.' or '..' segment";
        else if (roots.Any(root => path.StartsWith(root == "/" ? root : root + "/", StringComparison.Ordinal))) return null;
        else why = "is outside the TLS file roots";
        var allowed = roots.Count == 0 ? $"{Key} is empty, so no TLS file is read" : $"TLS files are read only inside {Key} [{string.Join(", ", roots)}]";
        return $"'{Messages.Model.Diagnostic.Quote(path)}' {why}: {allowed}; name a file in one of them, or add its directory to the setting on every node";
    }

    /// <summary>
    /// Refuses, before anything reads or stats them, TLS files outside the roots in force (<see cref="Current"/>), each
    /// the same way whether it exists or not.
    /// </summary>
    /// <exception cref="UnauthorizedAccessException">One of the files is outside the roots.</exception>
    public static void Check(string path, string? key = null)
    {
        var roots = Current;
        if ((Refusal(path, roots) ?? (key is null ? null : Refusal(key, roots))) is { } refused)
            throw new UnauthorizedAccessException(refused + " (refused unread)");
    }

    private static bool DotSegment(string path) => path.Split('/').Any(s => s is "." or "..");
}
