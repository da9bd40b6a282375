using System.Net;
using System.Net.Sockets;

namespace AkkaL4.Actors.Routing;

/// <summary>
/// An IP address as a 128-bit value with its family, so lookups and prefix tests allocate nothing.
/// IPv4-mapped IPv6 addresses are read as IPv4.
/// </summary>
public readonly record struct IpKey(UInt128 Bits, bool IsV6)
{
    public static IpKey From(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        UInt128 bits = 0;
        for (var i = 0; i < written; i++) bits = (bits << 8) | bytes[i];
        return new IpKey(bits, address.AddressFamily == AddressFamily.InterNetworkV6);
    }

    public static IpKey Parse(string text) => From(IPAddress.Parse(text));

    public static bool TryParse(string text, out IpKey key)
    {
        key = default;
        if (!IPAddress.TryParse(text, out var ip)) return false;
        key = From(ip);
        return true;
    }

    /// <summary>
    /// Only canonical text, as Istio (Go's netip) reads it: IPv4 as four decimal octets without leading zeros, IPv6 hex
    /// groups and colons (an embedded dotted quad at the end) without a zone or brackets. The inet_aton forms
    /// <see cref="IPAddress.TryParse(string, out IPAddress)"/> also takes (<c>10.0.5</c> = 10.0.0.5, <c>010.1.5.0</c> = 8.1.5.0,
    /// <c>0x0a000005</c> = 10.0.0.5, the last a valid host name too) would silently name another address than the one meant.
    /// </summary>
    public static bool TryParseCanonical(string text, out IpKey key)
    {
        key = default;
        return IsCanonical(text) && TryParse(text, out key);
    }

    private static bool IsCanonical(string address)
    {
        if (address.Contains(':'))
        {
            // IPv6: hex groups, ':' and an embedded dotted quad at the end; no zone, no brackets.
            if (!address.All(c => char.IsAsciiHexDigit(c) || c is ':' or '.')) return false;
            var dotted = address[(address.LastIndexOf(':') + 1)..];
            return !dotted.Contains('.') || IsDottedQuad(dotted);
        }
        return IsDottedQuad(address);
    }

    private static bool IsDottedQuad(string text)
    {
        var octets = text.Split('.');
        return octets.Length == 4 && octets.All(o => o.Length is >= 1 and <= 3 && o.All(char.IsAsciiDigit) && (o.Length == 1 || o[0] != '0') && int.Parse(o) <= 255);
    }

    public int Width => IsV6 ? 128 : 32;

    public IPAddress ToAddress()
    {
        var bytes = new byte[IsV6 ? 16 : 4];
        var bits = Bits;
        for (var i = bytes.Length - 1; i >= 0; i--) { bytes[i] = (byte)(bits & 0xFF); bits >>= 8; }
        return new IPAddress(bytes);
    }

    public override string ToString() => ToAddress().ToString();
}

/// <summary>
/// A CIDR block (<c>10.0.0.0/8</c>); a bare IP is a full-length prefix. Host bits are cleared (<c>10.0.5.7/24</c> is
/// <c>10.0.5.0/24</c>).
/// </summary>
public readonly record struct IpNet(IpKey Network, int PrefixLength)
{
    /// <summary>The address in canonical text only (<see cref="IpKey.TryParseCanonical"/>), a prefix in decimal.</summary>
    public static bool TryParse(string text, out IpNet net)
    {
        net = default;
        var slash = text.IndexOf('/');
        var address = slash < 0 ? text : text[..slash];
        if (!IpKey.TryParseCanonical(address, out var ip)) return false;
        var prefix = ip.Width;
        if (slash >= 0 && (!IsDecimal(text.AsSpan(slash + 1)) || !int.TryParse(text[(slash + 1)..], out prefix) || prefix < 0 || prefix > ip.Width))
            return false;
        net = new IpNet(new IpKey(ip.Bits & Mask(prefix, ip.Width), ip.IsV6), prefix);
        return true;
    }

    private static bool IsDecimal(ReadOnlySpan<char> text) => text.Length > 0 && !text.ContainsAnyExceptInRange('0', '9');

    public static IpNet Parse(string text) => TryParse(text, out var net) ? net : throw new FormatException(Refusal(text));

    /// <summary>Why <paramref name="text"/> is no IpNet; for an IPv4-mapped IPv6 prefix (read as IPv4), what to write instead.</summary>
    public static string Refusal(string text)
    {
        var slash = text.IndexOf('/');
        if (slash > 0 && IPAddress.TryParse(text[..slash], out var ip) && ip.IsIPv4MappedToIPv6
            && int.TryParse(text[(slash + 1)..], out var prefix) && prefix is >= 96 and <= 128)
            return $"'{text}' is an IPv4-mapped IPv6 prefix, which the router matches as IPv4: write {ip.MapToIPv4()}/{prefix - 96}";
        var refusal = $"'{text}' is not a CIDR or IP address (IPv4 as four decimal octets without leading zeros, IPv6 without a zone)";
        var suffix = slash < 0 ? "" : text[slash..];
        if (AddressText.Of(slash < 0 ? text : text[..slash]) is not { } misread) return refusal;
        // What a person would have got from the parser, and what to write (sec18).
        return $"{refusal}: it reads as {misread.ReadAs}{suffix} to .NET's parser ({misread.Why}); {AddressText.WriteInstead(misread, suffix)}";
    }

    public bool Contains(IpKey address) =>
        address.IsV6 == Network.IsV6 && (address.Bits & Mask(PrefixLength, Network.Width)) == Network.Bits;

    private static UInt128 Mask(int prefix, int width) =>
        prefix == 0 ? UInt128.Zero : (UInt128.MaxValue << (128 - prefix)) >> (128 - width);

    public override string ToString() => $"{Network}/{PrefixLength}";
}

/// <summary>An address and port a node listens on or connects to.</summary>
public readonly record struct IpPort(IpKey Address, int Port)
{
    public override string ToString() => Address.IsV6 ? $"[{Address}]:{Port}" : $"{Address}:{Port}";

    /// <summary>
    /// <c>IP:PORT</c> (<c>[v6]:PORT</c>), or, when <paramref name="portRequired"/> is false, also a bare
    /// IP (port 0). The one parser for addresses given on the command line and in query strings. The IP in canonical text only
    /// (<see cref="AddressText"/>): <c>127.0.0.010</c> would be 127.0.0.8.
    /// </summary>
    public static bool TryParse(string text, bool portRequired, out IpPort endpoint)
    {
        endpoint = default;
        if (AddressText.Of(AddressText.HostOf(text)) is not null) return false;
        if (!portRequired && IPAddress.TryParse(text, out var ip) && !text.Contains("]:") && text.Count(c => c == ':') != 1)
        {
            endpoint = new IpPort(IpKey.From(ip), 0);
            return true;
        }
        if (!IPEndPoint.TryParse(text, out var ep) || ep.Port == 0) return false;
        endpoint = new IpPort(IpKey.From(ep.Address), ep.Port);
        return true;
    }
}
