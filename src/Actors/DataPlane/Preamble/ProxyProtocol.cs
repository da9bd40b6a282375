using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AkkaL4.Actors.DataPlane.Preamble;

public enum ProxyStatus { NeedMore, Done, Invalid }

/// <summary>
/// A parsed PROXY header. <see cref="Source"/> and <see cref="Destination"/> are null for LOCAL
/// (a health check from the proxy itself) and for UNKNOWN or unix-socket families: the receiver then
/// uses the connection's own addresses, as the spec says.
/// </summary>
public sealed record ProxyHeader(int Version, IPEndPoint? Source, IPEndPoint? Destination);

public readonly record struct ProxyParse(ProxyStatus Status, ProxyHeader? Header = null, int Length = 0, string? Problem = null);

/// <summary>
/// The PROXY protocol, versions 1 and 2 (haproxy.org/download/2.9/doc/proxy-protocol.txt): parsing a
/// header at the start of an accepted connection, bounded by the spec's limits (107 bytes for v1,
/// 16 + 65,535 for v2), and writing one for an upstream.
/// </summary>
public static class ProxyProtocol
{
    public const int MaxV1 = 107;
    public const int MaxV2 = 16 + ushort.MaxValue;

    private static readonly byte[] V1Prefix = "PROXY "u8.ToArray();
    private static readonly byte[] V2Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <summary>Reads a header from the start of <paramref name="data"/>; <see cref="ProxyParse.Length"/> is its size once done.</summary>
    public static ProxyParse Parse(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return new(ProxyStatus.NeedMore);
        if (StartsLike(data, V2Signature)) return data.Length < V2Signature.Length ? new(ProxyStatus.NeedMore) : ParseV2(data);
        if (StartsLike(data, V1Prefix)) return data.Length < V1Prefix.Length ? new(ProxyStatus.NeedMore) : ParseV1(data);
        return Invalid("no PROXY header: the connection does not start with a v1 or v2 signature");
    }

    /// <summary>True when <paramref name="data"/> and <paramref name="signature"/> agree on their common length.</summary>
    private static bool StartsLike(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        var n = Math.Min(data.Length, signature.Length);
        return data[..n].SequenceEqual(signature[..n]);
    }

    private static ProxyParse Invalid(string why) => new(ProxyStatus.Invalid, Problem: why);

    private static ProxyParse ParseV1(ReadOnlySpan<byte> data)
    {
        var window = data[..Math.Min(data.Length, MaxV1)];
        var end = window.IndexOf("\r\n"u8);
        if (end < 0) return data.Length >= MaxV1 ? Invalid($"v1 header without CRLF in its first {MaxV1} bytes") : new(ProxyStatus.NeedMore);
        foreach (var b in window[..end])
            if (b < 0x20 || b >= 0x7f) return Invalid("v1 header with a byte that is not printable ASCII");
        var parts = Encoding.ASCII.GetString(window[..end]).Split(' ');
        var length = end + 2;
        if (parts.Length >= 2 && parts[1] == "UNKNOWN") return new(ProxyStatus.Done, new ProxyHeader(1, null, null), length);
        if (parts.Length != 6) return Invalid($"v1 header has {parts.Length} fields, not 6");
        var family = parts[1] switch
        {
            "TCP4" => AddressFamily.InterNetwork,
            "TCP6" => AddressFamily.InterNetworkV6,
            _ => AddressFamily.Unknown,
        };
        if (family == AddressFamily.Unknown) return Invalid($"v1 protocol '{parts[1]}' is not TCP4, TCP6 or UNKNOWN");
        if (!Address(parts[2], family, out var source) || !Address(parts[3], family, out var destination))
            return Invalid($"v1 addresses '{parts[2]}' and '{parts[3]}' are not both {parts[1]} addresses");
        if (!Port(parts[4], out var sourcePort) || !Port(parts[5], out var destinationPort))
            return Invalid($"v1 ports '{parts[4]}' and '{parts[5]}' are not both 0..65535");
        return new(ProxyStatus.Done, new ProxyHeader(1, new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort)), length);
    }

    private static bool Address(string text, AddressFamily family, out IPAddress address)
    {
        address = IPAddress.None;
        // IPAddress.Parse takes forms the spec does not (inet_pton's): shorthand ("1", "0x7f.1"), octal ("010.0.0.1" is
        // 8.0.0.1 to it, refused by HAProxy and glibc), brackets and a port ("[::1]:80"), a scope ("fe80::1%2"). v4 must be
        // four dotted decimals without leading zeros; v6 hex digits and colons, an embedded v4 (after the last colon) by
        // the v4 rule ("::ffff:1.2.3.04" is refused by inet_pton too).
        if (family == AddressFamily.InterNetwork && !DottedQuad(text)) return false;
        if (family == AddressFamily.InterNetworkV6 && (!text.Contains(':') || !text.All(c => char.IsAsciiHexDigit(c) || c is ':' or '.')
            || text.Contains('.') && !DottedQuad(text[(text.LastIndexOf(':') + 1)..])))
            return false;
        return IPAddress.TryParse(text, out address!) && address.AddressFamily == family;
    }

    private static bool DottedQuad(string text) =>
        text.Split('.') is { Length: 4 } parts && parts.All(p => p.Length is >= 1 and <= 3 && p.All(char.IsAsciiDigit) && (p.Length == 1 || p[0] != '0'));

    private static bool Port(string text, out int port)
    {
        port = 0;
        if (text.Length is 0 or > 5 || !text.All(char.IsAsciiDigit) || (text.Length > 1 && text[0] == '0')) return false;
        port = int.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
        return port <= ushort.MaxValue;
    }

    private static ProxyParse ParseV2(ReadOnlySpan<byte> data)
    {
        if (data.Length < 16) return new(ProxyStatus.NeedMore);
        var versionCommand = data[12];
        if (versionCommand >> 4 != 2) return Invalid($"v2 version {versionCommand >> 4}, not 2");
        var command = versionCommand & 0x0F;
        if (command > 1) return Invalid($"v2 command {command} is neither LOCAL nor PROXY");
        var family = data[13] >> 4;
        var transport = data[13] & 0x0F;
        var length = BinaryPrimitives.ReadUInt16BigEndian(data[14..16]);
        // Checked before the rest is waited for: a header already known to be refused holds no buffer until the timeout.
        if (family > 3) return Invalid($"v2 address family {family} is unknown");
        if (transport > 2) return Invalid($"v2 transport protocol {transport} is unknown");
        if (command == 1 && transport == 2) return Invalid("v2 header says DGRAM for a TCP connection");
        // UNSPEC's address block is skipped whatever its length (the spec); a unix socket's is two 108-byte paths.
        var addresses = command == 1 ? family switch { 1 => 12, 2 => 36, 3 => 216, _ => 0 } : 0;
        if (length < addresses) return Invalid($"v2 {family switch { 1 => "TCP4", 2 => "TCP6", _ => "UNIX" }} addresses need {addresses} bytes, the header has {length}");
        if (data.Length < 16 + length) return new(ProxyStatus.NeedMore);
        var total = 16 + length;
        var body = data.Slice(16, length);
        // LOCAL: the proxy's own connection (a health check); its addresses, if any, are not the client's.
        if (command == 0) return new(ProxyStatus.Done, new ProxyHeader(2, null, null), total);
        // TLVs are skipped, but must fill the rest of the header exactly, as HAProxy and Envoy require.
        if (addresses > 0 && Tlvs(body[addresses..]) is { } bad) return Invalid(bad);
        return family switch
        {
            1 => new(ProxyStatus.Done, new ProxyHeader(2,
                new IPEndPoint(new IPAddress(body[..4]), BinaryPrimitives.ReadUInt16BigEndian(body[8..10])),
                new IPEndPoint(new IPAddress(body[4..8]), BinaryPrimitives.ReadUInt16BigEndian(body[10..12]))), total),
            2 => new(ProxyStatus.Done, new ProxyHeader(2,
                new IPEndPoint(new IPAddress(body[..16]), BinaryPrimitives.ReadUInt16BigEndian(body[32..34])),
                new IPEndPoint(new IPAddress(body[16..32]), BinaryPrimitives.ReadUInt16BigEndian(body[34..36]))), total),
            // UNSPEC or a unix socket: nothing usable as a TCP client address.
            _ => new(ProxyStatus.Done, new ProxyHeader(2, null, null), total),
        };
    }

    /// <summary>Null when <paramref name="tlvs"/> is whole TLVs (type, 16-bit length, value) end to end; else why not.</summary>
    private static string? Tlvs(ReadOnlySpan<byte> tlvs)
    {
        while (!tlvs.IsEmpty)
        {
            if (tlvs.Length < 3) return $"v2 header ends in {tlvs.Length} byte(s) that are no TLV";
            var length = BinaryPrimitives.ReadUInt16BigEndian(tlvs[1..3]);
            if (3 + length > tlvs.Length) return $"v2 TLV of type 0x{tlvs[0]:x2} claims {length} bytes, the header has {tlvs.Length - 3} left";
            tlvs = tlvs[(3 + length)..];
        }
        return null;
    }

    /// <summary>A v1 header: <c>PROXY TCP4|TCP6 src dst sport dport\r\n</c> (mixed families are both given as IPv6).</summary>
    public static byte[] V1(IPEndPoint source, IPEndPoint destination)
    {
        var (s, d) = SameFamily(source, destination);
        var family = s.AddressFamily == AddressFamily.InterNetwork ? "TCP4" : "TCP6";
        return Encoding.ASCII.GetBytes($"PROXY {family} {s.Address} {d.Address} {s.Port} {d.Port}\r\n");
    }

    /// <summary>A v2 PROXY header with TCP over IPv4 or IPv6 addresses and no TLVs.</summary>
    public static byte[] V2(IPEndPoint source, IPEndPoint destination)
    {
        var (s, d) = SameFamily(source, destination);
        var v4 = s.AddressFamily == AddressFamily.InterNetwork;
        var addressBytes = v4 ? 12 : 36;
        var header = new byte[16 + addressBytes];
        V2Signature.CopyTo(header, 0);
        header[12] = 0x21; // version 2, PROXY
        header[13] = v4 ? (byte)0x11 : (byte)0x21; // INET or INET6, STREAM
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), (ushort)addressBytes);
        var size = v4 ? 4 : 16;
        s.Address.GetAddressBytes().CopyTo(header, 16);
        d.Address.GetAddressBytes().CopyTo(header, 16 + size);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(16 + 2 * size), (ushort)s.Port);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(18 + 2 * size), (ushort)d.Port);
        return header;
    }

    private static (IPEndPoint, IPEndPoint) SameFamily(IPEndPoint s, IPEndPoint d)
    {
        if (s.Address.IsIPv4MappedToIPv6 && d.Address.IsIPv4MappedToIPv6) return (Map4(s), Map4(d));
        if (s.AddressFamily == d.AddressFamily) return (s, d);
        return (new IPEndPoint(s.Address.MapToIPv6(), s.Port), new IPEndPoint(d.Address.MapToIPv6(), d.Port));

        static IPEndPoint Map4(IPEndPoint e) => new(e.Address.MapToIPv4(), e.Port);
    }
}
