using System.Globalization;
using System.Net;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Routing;

/// <summary>
/// IP text a person reads as one address and the node's parser (.NET's, like inet_aton and getaddrinfo) as another:
/// <c>127.0.20.010</c> is 127.0.20.8 (a leading zero is octal), <c>0x7f000001</c> and <c>127.1</c> are 127.0.0.1. Where a
/// manifest or a setting names an address to listen on, dial or trust, the node would use the one the parser reads.
/// Canonical text (<see cref="IpKey.TryParseCanonical"/>, Istio's and Go's netip) is what a person reads.
/// </summary>
public static class AddressText
{
    /// <summary>
    /// How a parser reads text that is not canonical IP text: the address, why, its canonical text, and (four decimal numbers
    /// with leading zeros) the address a person may have meant by them.
    /// </summary>
    public sealed record Misreading(IpKey ReadAs, string Why, string? Padded);

    /// <summary>
    /// How <paramref name="text"/> is misread, or null when it is canonical IP text or no IP to any parser (a host name,
    /// nothing at all). The address read is the one the node uses: an IPv4-mapped IPv6 address as IPv4, a zone dropped.
    /// </summary>
    public static Misreading? Of(string? text)
    {
        if (string.IsNullOrEmpty(text) || !IPAddress.TryParse(text, out var parsed) || IpKey.TryParseCanonical(text, out _)) return null;
        var read = IpKey.From(parsed);
        if (text.Contains(':')) return new Misreading(read, "an IPv6 address with a zone, brackets or an IPv4 part that is not four decimal numbers", null);
        var parts = text.Split('.');
        if (parts.Any(p => p.StartsWith("0x", StringComparison.OrdinalIgnoreCase))) return new Misreading(read, "0x makes a number hexadecimal", null);
        if (parts.Length < 4) return new Misreading(read, "fewer than four numbers: the last fills the octets left", null);
        // Four decimal numbers, one with a leading zero: octal to the parser, perhaps padding to the person.
        var padded = parts.All(p => p.Length is >= 1 and <= 3 && p.All(char.IsAsciiDigit) && int.Parse(p, CultureInfo.InvariantCulture) <= 255)
            ? string.Join('.', parts.Select(p => int.Parse(p, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture)))
            : null;
        return new Misreading(read, "a leading zero makes a number octal", padded == read.ToString() ? null : padded);
    }

    /// <summary>
    /// Why <paramref name="text"/>, an address the node would <paramref name="use"/> ("listen on", "dial"...), may not name
    /// it, or null when it may (canonical, or no IP: a host name). A CIDR is judged by its address. <paramref name="user"/>:
    /// who would use it ("the node", "akkal4" for a client verb).
    /// </summary>
    public static string? Refusal(string? text, string use, string user = "the node")
    {
        if (text is null) return null;
        var slash = text.IndexOf('/');
        if (Of(slash < 0 ? text : text[..slash]) is not { } misread) return null;
        var prefix = slash < 0 ? "" : text[slash..];
        return $"'{Diagnostic.Quote(text)}' reads as {misread.ReadAs}{prefix} to {user}'s parser ({misread.Why}, as inet_aton reads it): "
               + $"{user} would {use} {misread.ReadAs}{prefix}, not the address a person reads; {WriteInstead(misread, prefix)}";
    }

    /// <summary>What to write instead of misread text (<paramref name="prefix"/>: a CIDR's "/N", or nothing).</summary>
    public static string WriteInstead(Misreading misread, string prefix) =>
        $"write {misread.ReadAs}{prefix}" + (misread.Padded is { } padded ? $", or {padded}{prefix} if the zeros are padding" : "");

    /// <summary>
    /// The host of <c>IP:PORT</c> or <c>[IPv6]:PORT</c> text as written (without the brackets); the whole text when it has no port.
    /// </summary>
    public static string HostOf(string endpoint)
    {
        if (endpoint.StartsWith('[') && endpoint.IndexOf(']') is var close and > 0) return endpoint[1..close];
        var colon = endpoint.LastIndexOf(':');
        return colon > 0 && endpoint.IndexOf(':') == colon ? endpoint[..colon] : endpoint;
    }
}
