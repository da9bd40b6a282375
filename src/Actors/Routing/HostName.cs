using System.Net;

namespace AkkaL4.Actors.Routing;

/// <summary>Istio's host-name rules: short-name expansion and wildcard matching (case-sensitive).</summary>
public static class HostName
{
    public const string ClusterDomain = "svc.cluster.local";

    /// <summary>
    /// A host with no dot (not <c>*</c>, not an IP) means <c>name.namespace.svc.cluster.local</c>;
    /// a host with a dot is literal.
    /// </summary>
    public static string Expand(string host, string ns) =>
        host == "*" || host.Contains('.') || host.Contains(':') || IPAddress.TryParse(host, out _)
            ? host
            : $"{host}.{ns}.{ClusterDomain}";

    public static bool IsWildcard(string host) => host.StartsWith('*');

    /// <summary>
    /// True when every name <paramref name="name"/> stands for is also covered by
    /// <paramref name="pattern"/> (Istio's SubsetOf): <c>*</c> covers all, <c>*.ex.com</c> covers
    /// names ending in <c>.ex.com</c> at any depth but not <c>ex.com</c>.
    /// </summary>
    public static bool Covers(string pattern, string name)
    {
        if (pattern == "*") return true;
        if (pattern.StartsWith("*.", StringComparison.Ordinal))
        {
            var suffix = pattern.AsSpan(1); // ".ex.com"; spans keep the decision path allocation-free
            if (name.StartsWith("*.", StringComparison.Ordinal)) return name.AsSpan(1).EndsWith(suffix, StringComparison.Ordinal);
            return name.Length > suffix.Length && name.AsSpan().EndsWith(suffix, StringComparison.Ordinal);
        }
        return string.Equals(pattern, name, StringComparison.Ordinal);
    }

    /// <summary>Istio's Name.Matches: the two overlap (either covers the other).</summary>
    public static bool Matches(string a, string b) => Covers(a, b) || Covers(b, a);

    /// <summary>An SNI name is admitted by a VS host written as given or expanded in the VS namespace.</summary>
    public static bool SniWithin(string sni, string vsHost, string vsNamespace) =>
        Covers(vsHost, sni) || Covers(Expand(vsHost, vsNamespace), sni);
}
