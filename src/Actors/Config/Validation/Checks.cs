using System.Net;
using System.Text.RegularExpressions;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Validation;

/// <summary>Field checks shared by the validators, following Istio's and Kubernetes' own rules.</summary>
internal static partial class Checks
{
    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex Dns1123LabelRegex();

    [GeneratedRegex("^[a-z]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex Dns1035LabelRegex();

    [GeneratedRegex("^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")]
    private static partial Regex QualifiedNameRegex();

    [GeneratedRegex("^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")]
    private static partial Regex DnsLabelAnyCaseRegex();

    public static bool IsDns1123Label(string? s) => s is { Length: > 0 and <= 63 } && Dns1123LabelRegex().IsMatch(s);
    public static bool IsDns1035Label(string? s) => s is { Length: > 0 and <= 63 } && Dns1035LabelRegex().IsMatch(s);

    /// <summary>Kubernetes' DNS-1123 subdomain (lower case), for metadata names.</summary>
    public static bool IsDns1123Subdomain(string? s) =>
        s is { Length: > 0 and <= 253 } && s.Split('.').All(IsDns1123Label);

    public static bool IsValidPort(int port) => port is >= 1 and <= 65535;

    public static bool IsIp(string s) => !s.Contains('/') && LooksNumeric(s) && IPAddress.TryParse(s, out _);

    // IPAddress.TryParse accepts "1.2.3" and "5" (legacy inet_aton forms); Istio, like Go's
    // netip, accepts only the full dotted-quad or an IPv6 literal.
    private static bool LooksNumeric(string s) => s.Contains(':') || s.Split('.') is { Length: 4 } parts && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit));

    /// <summary>
    /// Why an endpoint address is no client identity although some parsers read it as an IP (sec17): a leading zero
    /// (<c>10.0.0.010</c> is 10.0.0.8 to inet_aton and .NET, octal) or a host name that is a number to them
    /// (<c>0x0a000008</c>), a zone or brackets; null for canonical text and for anything no parser reads as an IP.
    /// </summary>
    public static string? NotCanonicalIp(string address) =>
        IPAddress.TryParse(address, out var read) && !Routing.IpKey.TryParseCanonical(address, out _)
            ? $"'{Diagnostic.Quote(address)}' reads as the IP address {read} to some parsers (a leading zero as octal, 0x as hexadecimal) but is "
              + "not written as one (IPv4 as four decimal octets without leading zeros, IPv6 without a zone or brackets): connections from "
              + $"{read} do not get this workload's labels and namespace (sourceLabels, sourceNamespace), while connections to it go to {read}; "
              + "write the address as it is meant" + MisreadAddresses.WriterRefuses
            : null;

    /// <summary>A CIDR (<c>10.0.0.0/8</c>, <c>2001:db8::/64</c>) or a bare IP; the error says which part is wrong.</summary>
    public static string? CheckSubnet(string value)
    {
        var slash = value.IndexOf('/');
        if (slash < 0) return IsIp(value) ? null : $"'{value}' is not a valid IP address";
        var ip = value[..slash];
        if (!IsIp(ip)) return $"'{value}' is not a valid CIDR: '{ip}' is not an IP address";
        var max = ip.Contains(':') ? 128 : 32;
        return int.TryParse(value[(slash + 1)..], out var bits) && bits >= 0 && bits <= max && value[(slash + 1)..].All(char.IsAsciiDigit)
            ? null
            : $"'{value}' is not a valid CIDR: prefix length must be 0..{max}";
    }

    /// <summary>
    /// Istio's labels.IsDNS1123Label: like Kubernetes' but letters of either case (subset names,
    /// port names, exportTo namespaces, gateway references).
    /// </summary>
    public static bool IsIstioLabel(string? s) => s is { Length: > 0 and <= 63 } && DnsLabelAnyCaseRegex().IsMatch(s);

    [GeneratedRegex("^(\\*|(\\*|\\*-)?[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)$")]
    private static partial Regex WildcardLabelRegex();

    /// <summary>Istio's ValidateWildcardDomain: <c>*</c>, or a DNS name whose first label may be <c>*</c>, <c>*x</c> or <c>*-x</c>.</summary>
    public static string? CheckWildcardDomain(string? host)
    {
        if (Preconditions(host) is { } error) return error;
        var dot = host!.IndexOf('.');
        var first = dot < 0 ? host : host[..dot];
        if (first.Length > 63 || !WildcardLabelRegex().IsMatch(first))
            return first.Contains('*')
                ? $"invalid host '{host}': a wildcard is allowed only at the start of the first label (*.example.com, *foo.example.com)"
                : $"invalid host '{host}': label '{first}' must be 1..63 letters, digits and '-', starting and ending with a letter or digit";
        return dot < 0 ? null : CheckDnsLabels(host, host[(dot + 1)..]);
    }

    /// <summary>Istio's ValidateFQDN: a DNS name without wildcards (a trailing dot is allowed).</summary>
    public static string? CheckFqdn(string? name) => Preconditions(name) ?? CheckDnsLabels(name!, name!);

    private static string? Preconditions(string? name) => name switch
    {
        null or "" => "host must not be empty",
        { Length: > 255 } => $"domain name '{name[..32]}...' is too long ({name.Length} characters, max 255)",
        _ => null,
    };

    private static string? CheckDnsLabels(string host, string labels)
    {
        var parts = labels.Split('.');
        if (parts[^1].Length > 0 && parts[^1].All(char.IsAsciiDigit))
            return $"invalid host '{host}': the top-level domain '{parts[^1]}' cannot be all-numeric";
        for (var i = 0; i < parts.Length; i++)
        {
            // A trailing dot (istio.io.) names the same host unambiguously.
            if (i == parts.Length - 1 && parts[i].Length == 0) return null;
            if (parts[i].Contains('*')) return $"invalid host '{host}': a wildcard is allowed only in the first label (*.example.com), not in '{parts[i]}'";
            if (!IsIstioLabel(parts[i]))
                return $"invalid host '{host}': label '{parts[i]}' must be 1..63 letters, digits and '-', starting and ending with a letter or digit";
        }
        return null;
    }

    /// <summary>Istio's ValidatePartialWildCard: <c>*foo.com</c> (a wildcard that is not a whole label).</summary>
    public static bool IsPartialWildcard(string host) => host.Contains('*') && host != "*" && !host.StartsWith("*.", StringComparison.Ordinal);

    /// <summary>A label key: optional DNS-subdomain prefix and a name of up to 63 characters.</summary>
    public static string? CheckLabelKey(string key)
    {
        var slash = key.IndexOf('/');
        var name = slash < 0 ? key : key[(slash + 1)..];
        if (slash >= 0 && !(key[..slash] is { Length: > 0 and <= 253 } prefix && prefix.Split('.').All(IsIstioLabel)))
            return $"invalid label key '{key}': prefix must be a DNS subdomain";
        if (name.Length is 0 or > 63 || !QualifiedNameRegex().IsMatch(name))
            return $"invalid label key '{key}': must be 63 characters or less, start and end with a letter or digit, and contain only letters, digits, '-', '_' and '.'";
        return null;
    }

    /// <summary>
    /// A label value. Istio's pattern has no length limit (it is more lenient than Kubernetes, which
    /// allows 63 characters); <paramref name="kubernetes"/> applies Kubernetes' limit for metadata labels.
    /// </summary>
    public static string? CheckLabelValue(string key, string value, bool kubernetes = false) =>
        value.Length == 0 || ((!kubernetes || value.Length <= 63) && QualifiedNameRegex().IsMatch(value))
            ? null
            : $"invalid value '{value}' for label '{key}': must {(kubernetes ? "be 63 characters or less, " : "")}start and end with a letter or digit, and contain only letters, digits, '-', '_' and '.'";

    public static void Labels(Findings f, string path, Labels labels, bool kubernetes = false)
    {
        foreach (var (k, v) in labels)
        {
            if (CheckLabelKey(k) is { } keyError) f.Error($"{path}.{k}", keyError);
            else if (CheckLabelValue(k, v, kubernetes) is { } valueError) f.Error($"{path}.{k}", valueError);
        }
    }

    /// <summary>
    /// Istio's validateExportTo: <c>.</c>, <c>*</c> or namespaces, no duplicates (<c>.</c> counts as the
    /// resource's own namespace), <c>*</c> alone; <c>~</c> (nobody) only on a ServiceEntry, and alone; a
    /// DestinationRule with a workloadSelector only to its own namespace.
    /// </summary>
    public static void ExportTo(Findings f, string path, Seq<string> exportTo, bool isServiceEntry = false, bool hasWorkloadSelector = false)
    {
        if (exportTo.IsEmpty) return;
        var ns = f.Resource.Metadata.Namespace;
        var seen = new HashSet<string>();
        for (var i = 0; i < exportTo.Count; i++)
        {
            var e = exportTo[i];
            var key = e == "." ? ns : e;
            if (!seen.Add(key))
                f.Error($"{path}[{i}]", key == e ? $"duplicate exportTo entry '{e}'" : $"duplicate exportTo entries: '.' and the own namespace '{ns}'");
            else if (e == "~" && !isServiceEntry)
            {
                f.Error($"{path}[{i}]", "exportTo '~' (export to nobody) is allowed only on a ServiceEntry");
                seen.Remove(key);
            }
            else if (e is not ("." or "*" or "~") && !IsIstioLabel(e))
            {
                f.Error($"{path}[{i}]", $"invalid exportTo entry '{e}': use '.', '*' or a namespace name");
                seen.Remove(key);
            }
        }
        if (hasWorkloadSelector && seen.Count > 0)
        {
            if (!seen.Contains(ns)) f.Error(path, "a DestinationRule with a workloadSelector cannot be exported beyond its own namespace");
            else if (seen.Count > 1) f.Error(path, "a DestinationRule with a workloadSelector cannot have more than one exportTo entry");
        }
        if (seen.Contains("*") && exportTo.Count > 1) f.Error(path, "exportTo cannot mix '*' (all namespaces) with other entries");
        if (seen.Contains("~") && exportTo.Count > 1) f.Error(path, "exportTo cannot mix '~' (nobody) with other entries");
    }

    /// <summary>
    /// The longest duration the runtime can arm as a timer or connect timeout: .NET timers and
    /// cancellation take at most int.MaxValue milliseconds (about 24.8 days); a longer one that passed
    /// validation would fail every connect. Istio has no such limit (an intended difference).
    /// </summary>
    public static readonly Duration MaxTimer = new(int.MaxValue * 1_000_000L);

    /// <summary>Istio's ValidateDuration (at least 1ms, whole milliseconds); with <paramref name="max"/>, also what the runtime can use.</summary>
    public static void Duration(Findings f, string path, Duration? value, bool allowZero = false, Duration? max = null)
    {
        if (value is not { } d) return;
        if (allowZero && d.IsZero) return;
        if (d.Nanoseconds < 1_000_000) f.Error(path, $"duration {d} must be at least 1ms");
        else if (d.Nanoseconds % 1_000_000 != 0) f.Error(path, $"duration {d} is finer than a millisecond; only millisecond precision is supported");
        else if (max is { } m && d.Nanoseconds > m.Nanoseconds)
            f.Error(path, $"duration {d} is longer than AkkaL4 can apply (at most {m}{(m == MaxTimer ? ", the longest .NET timer" : "")})");
    }

    public static void Percent(Findings f, string path, int? value)
    {
        if (value is < 0 or > 100) f.Error(path, $"percentage {value} is outside the range 0..100");
    }

    /// <summary>
    /// Istio's validateGatewayNames: <c>mesh</c>, <c>name</c>, <c>namespace/name</c> (both DNS labels, so
    /// not <c>./name</c> or <c>ns/*</c>), or the legacy <c>name.namespace[.svc...]</c> (a DNS name; analysis warns).
    /// </summary>
    public static void GatewayName(Findings f, string path, string gateway)
    {
        if (gateway == "mesh") return;
        var slash = gateway.IndexOf('/');
        if (slash >= 0)
        {
            var ns = gateway[..slash];
            var name = gateway[(slash + 1)..];
            if (!IsIstioLabel(ns)) f.Error(path, $"invalid gateway '{gateway}': namespace '{ns}' is not a valid namespace name");
            if (!IsIstioLabel(name)) f.Error(path, $"invalid gateway '{gateway}': '{name}' is not a valid gateway name (a DNS label)");
            return;
        }
        if (CheckFqdn(gateway) is { } error) f.Error(path, $"invalid gateway '{gateway}': {error}");
    }

    public const string UnixPrefix = "unix://";

    /// <summary>Istio's ValidateUnixAddress: an absolute path to a file, or an abstract socket <c>@name</c>.</summary>
    public static string? CheckUnixAddress(string address)
    {
        var path = address[UnixPrefix.Length..];
        if (path.Length == 0) return "unix address must not be empty";
        if (path.StartsWith('@')) return null;
        return path.StartsWith('/') && !path.EndsWith('/') ? null : $"'{path}' is not an absolute path to a file";
    }

    public static bool IsKnownProtocol(string? protocol) => protocol?.ToUpperInvariant() is
        "TCP" or "UDP" or "TLS" or "HTTP" or "HTTPS" or "HTTP2" or "HTTP_PROXY" or "GRPC" or "GRPC-WEB" or "MONGO" or "REDIS" or "MYSQL";

    public const string KnownProtocols = "HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP, TLS, UDP";
}
