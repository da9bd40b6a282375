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

    public static bool IsDns1123Subdomain(string? s) =>
        s is { Length: > 0 and <= 253 } && s.Split('.').All(IsDns1123Label);

    public static bool IsValidPort(int port) => port is >= 1 and <= 65535;

    public static bool IsIp(string s) => !s.Contains('/') && LooksNumeric(s) && IPAddress.TryParse(s, out _);

    // IPAddress.TryParse accepts "1.2.3" and "5" (legacy inet_aton forms); Istio, like Go's
    // netip, accepts only the full dotted-quad or an IPv6 literal.
    private static bool LooksNumeric(string s) => s.Contains(':') || s.Split('.') is { Length: 4 } parts && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit));

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

    /// <summary>Istio's ValidateWildcardDomain: a DNS name, optionally starting with <c>*.</c>, or <c>*</c>.</summary>
    public static string? CheckWildcardDomain(string? host)
    {
        if (string.IsNullOrEmpty(host)) return "host must not be empty";
        if (host.Length > 255) return $"domain name '{host}' is too long (max 255)";
        var rest = host;
        if (host.StartsWith('*'))
        {
            if (host == "*") return null;
            if (!host.StartsWith("*.", StringComparison.Ordinal)) return $"invalid host '{host}': a wildcard must be the whole first label (*.example.com)";
            rest = host[2..];
        }
        if (rest.Contains('*')) return $"invalid host '{host}': a wildcard is allowed only as the first label (*.example.com), not partially";
        foreach (var label in rest.Split('.'))
        {
            if (label.Length == 0) return $"invalid host '{host}': empty label";
            if (label.Length > 63) return $"invalid host '{host}': label '{label}' is longer than 63 characters";
            if (!DnsLabelAnyCaseRegex().IsMatch(label)) return $"invalid host '{host}': label '{label}' must consist of letters, digits and '-'";
        }
        return null;
    }

    /// <summary>A Kubernetes label key: optional DNS-subdomain prefix and a name of up to 63 characters.</summary>
    public static string? CheckLabelKey(string key)
    {
        var slash = key.IndexOf('/');
        var name = slash < 0 ? key : key[(slash + 1)..];
        if (slash >= 0 && !IsDns1123Subdomain(key[..slash])) return $"invalid label key '{key}': prefix must be a DNS subdomain";
        if (name.Length is 0 or > 63 || !QualifiedNameRegex().IsMatch(name))
            return $"invalid label key '{key}': must be 63 characters or less, start and end with a letter or digit, and contain only letters, digits, '-', '_' and '.'";
        return null;
    }

    public static string? CheckLabelValue(string key, string value) =>
        value.Length == 0 || (value.Length <= 63 && QualifiedNameRegex().IsMatch(value))
            ? null
            : $"invalid value '{value}' for label '{key}': must be 63 characters or less, start and end with a letter or digit, and contain only letters, digits, '-', '_' and '.'";

    public static void Labels(Findings f, string path, Labels labels)
    {
        foreach (var (k, v) in labels)
        {
            if (CheckLabelKey(k) is { } keyError) f.Error($"{path}.{k}", keyError);
            else if (CheckLabelValue(k, v) is { } valueError) f.Error($"{path}.{k}", valueError);
        }
    }

    public static void ExportTo(Findings f, string path, Seq<string> exportTo)
    {
        var seen = new HashSet<string>();
        for (var i = 0; i < exportTo.Count; i++)
        {
            var e = exportTo[i];
            if (!seen.Add(e)) f.Error($"{path}[{i}]", $"duplicate exportTo entry '{e}'");
            else if (e == "~") f.Error($"{path}[{i}]", "exportTo '~' (export to nobody) is not supported");
            else if (e is not ("." or "*") && !IsDns1123Label(e))
                f.Error($"{path}[{i}]", $"invalid exportTo entry '{e}': use '.', '*' or a namespace name");
        }
        if (exportTo.Contains("*") && exportTo.Count > 1)
            f.Error(path, "exportTo cannot mix '*' (all namespaces) with other entries");
    }

    /// <summary>Istio's ValidateDuration: at least 1ms and whole milliseconds.</summary>
    public static void Duration(Findings f, string path, Duration? value, bool allowZero = false)
    {
        if (value is not { } d) return;
        if (allowZero && d.IsZero) return;
        if (d.Nanoseconds < 1_000_000) f.Error(path, $"duration {d} must be at least 1ms");
        else if (d.Nanoseconds % 1_000_000 != 0) f.Error(path, $"duration {d} is finer than a millisecond; only millisecond precision is supported");
    }

    public static void Percent(Findings f, string path, int? value)
    {
        if (value is < 0 or > 100) f.Error(path, $"{value} is outside the range 0..100");
    }

    /// <summary>A gateway reference: <c>mesh</c>, <c>name</c>, <c>ns/name</c>, or legacy <c>name.ns[.svc...]</c>.</summary>
    public static void GatewayName(Findings f, string path, string gateway)
    {
        if (gateway == "mesh") return;
        var slash = gateway.IndexOf('/');
        if (slash >= 0)
        {
            var ns = gateway[..slash];
            var name = gateway[(slash + 1)..];
            if (ns != "." && !IsDns1123Label(ns)) f.Error(path, $"invalid gateway '{gateway}': namespace '{ns}' is not a valid namespace name");
            else if (!IsDns1123Subdomain(name)) f.Error(path, $"invalid gateway '{gateway}': '{name}' is not a valid gateway name");
            return;
        }
        if (!IsDns1123Subdomain(gateway)) f.Error(path, $"invalid gateway '{gateway}': not a valid gateway name");
    }

    public static bool IsKnownProtocol(string? protocol) => protocol?.ToUpperInvariant() is
        "TCP" or "UDP" or "TLS" or "HTTP" or "HTTPS" or "HTTP2" or "HTTP_PROXY" or "GRPC" or "GRPC-WEB" or "MONGO" or "REDIS" or "MYSQL";

    public const string KnownProtocols = "HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP, TLS, UDP";
}
