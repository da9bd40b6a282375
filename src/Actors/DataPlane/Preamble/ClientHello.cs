using System.Text;

namespace AkkaL4.Actors.DataPlane.Preamble;

public enum HelloStatus
{
    /// <summary>The bytes so far are a valid beginning: read more.</summary>
    NeedMore,
    /// <summary>A complete ClientHello with one host_name in its server_name extension.</summary>
    Sni,
    /// <summary>A complete ClientHello without a server name.</summary>
    NoSni,
    /// <summary>The first byte is not a TLS handshake record: a plain-text (or other protocol) client.</summary>
    NotTls,
    /// <summary>Starts as TLS but is not a well-formed ClientHello (or is larger than allowed, or has an extension twice, or two server names).</summary>
    Malformed,
}

public readonly record struct HelloResult(HelloStatus Status, string? ServerName = null, string? Problem = null);

/// <summary>
/// Reads the server name from the start of a TLS connection (RFC 8446 §4.1.2, RFC 6066 §3) without
/// changing a byte: the caller keeps what it read and relays it as it came. The hello may be split
/// across records, and the records across reads; both are put together here.
/// </summary>
public static class ClientHello
{
    private const byte HandshakeRecord = 22;
    private const byte ClientHelloType = 1;
    /// <summary>A TLS plaintext record carries at most 2^14 bytes.</summary>
    private const int MaxRecord = 16384;

    /// <summary>
    /// How far reading a ClientHello got in the bytes so far: the records already walked and, once known, the hello's
    /// size. Kept by the caller between reads, so each read walks only the records that are new.
    /// </summary>
    public struct Progress
    {
        internal int Next;
        internal int Payload;
        internal int Need;
    }

    /// <summary>Reads <paramref name="data"/>, everything the client sent so far; a hello above <paramref name="maxHello"/> bytes is malformed.</summary>
    public static HelloResult Read(ReadOnlySpan<byte> data, int maxHello)
    {
        var progress = default(Progress);
        return Read(data, maxHello, ref progress);
    }

    /// <summary>
    /// As <see cref="Read(ReadOnlySpan{byte}, int)"/>, for a caller that reads again with more bytes after the same ones:
    /// <paramref name="progress"/> (default at first) lets it start where the last call left off. Nothing is allocated
    /// until the whole hello is there, and then only when it spans records.
    /// </summary>
    public static HelloResult Read(ReadOnlySpan<byte> data, int maxHello, ref Progress progress)
    {
        if (data.IsEmpty) return new(HelloStatus.NeedMore);
        if (data[0] != HandshakeRecord) return new(HelloStatus.NotTls, Problem: $"the first byte (0x{data[0]:x2}) does not start a TLS handshake record");
        var pos = progress.Next;
        Span<byte> header = stackalloc byte[4];
        while (pos + 5 <= data.Length)
        {
            if (data[pos] != HandshakeRecord) return Malformed($"a record of type {data[pos]} inside the ClientHello");
            if (data[pos + 1] != 3) return pos == 0
                ? new(HelloStatus.NotTls, Problem: $"record version {data[pos + 1]}.{data[pos + 2]} is not TLS")
                : Malformed($"record version {data[pos + 1]}.{data[pos + 2]}");
            var length = (data[pos + 3] << 8) | data[pos + 4];
            if (length is 0 or > MaxRecord) return Malformed($"a handshake record of {length} bytes");
            var inRecord = Math.Min(length, data.Length - pos - 5);
            var have = progress.Payload + inRecord;
            if (progress.Need == 0 && have >= 4)
            {
                CopyPayload(data, header);
                if (header[0] != ClientHelloType) return Malformed($"handshake message type {header[0]}, not ClientHello");
                progress.Need = 4 + ((header[1] << 16) | (header[2] << 8) | header[3]);
                if (progress.Need - 4 > maxHello) return Malformed($"a ClientHello of {progress.Need - 4} bytes (more than {maxHello})");
            }
            if (progress.Need > 0 && have >= progress.Need)
            {
                // The usual case, the whole hello in the first record, is read where it lies.
                if (pos == 0) return Parse(data.Slice(5 + 4, progress.Need - 4));
                var message = new byte[progress.Need];
                CopyPayload(data, message);
                return Parse(message.AsSpan(4));
            }
            if (inRecord < length) break;
            pos += 5 + length;
            progress.Next = pos;
            progress.Payload += length;
        }
        return new(HelloStatus.NeedMore);
    }

    /// <summary>Fills <paramref name="into"/> with the handshake bytes of the records at the start of <paramref name="data"/> (already checked).</summary>
    private static void CopyPayload(ReadOnlySpan<byte> data, Span<byte> into)
    {
        for (int pos = 0, have = 0; have < into.Length && pos + 5 <= data.Length; )
        {
            var length = (data[pos + 3] << 8) | data[pos + 4];
            var chunk = data.Slice(pos + 5, Math.Min(Math.Min(length, data.Length - pos - 5), into.Length - have));
            chunk.CopyTo(into[have..]);
            have += chunk.Length;
            pos += 5 + length;
        }
    }

    /// <summary>
    /// A server name as rules compare it: host names compare case-insensitively and a trailing dot
    /// names the same host. The data plane and <c>explain --sni</c> both pass names through this.
    /// </summary>
    public static string Normalize(string serverName) => serverName.ToLowerInvariant().TrimEnd('.');

    private static HelloResult Malformed(string why) => new(HelloStatus.Malformed, Problem: why);

    private static HelloResult Parse(ReadOnlySpan<byte> hello)
    {
        var r = new Reader(hello);
        if (!r.Skip(2 + 32)) return Malformed("ClientHello shorter than its version and random");
        if (!r.Byte(out var sessionId) || sessionId > 32 || !r.Skip(sessionId)) return Malformed("bad session id");
        if (!r.U16(out var suites) || suites == 0 || suites % 2 != 0 || !r.Skip(suites)) return Malformed("bad cipher suites");
        if (!r.Byte(out var compression) || compression == 0 || !r.Skip(compression)) return Malformed("bad compression methods");
        if (r.AtEnd) return new(HelloStatus.NoSni, Problem: "the ClientHello has no extensions");
        if (!r.U16(out var extensionsLength) || extensionsLength != r.Left) return Malformed("extensions length does not match the ClientHello");
        // Every extension is walked, not only up to server_name, and a type seen twice is refused (RFC 8446 §4.2), as
        // OpenSSL, BoringSSL and Go refuse it: a hello with two names must not be routed by one while something in
        // front of this router, or the server behind it, reads the other. One bit per extension type.
        Span<ulong> seen = stackalloc ulong[(ushort.MaxValue + 1) / 64];
        string? serverName = null;
        while (!r.AtEnd)
        {
            if (!r.U16(out var type) || !r.U16(out var length) || !r.Slice(length, out var body)) return Malformed("a truncated extension");
            var bit = 1UL << (type & 63);
            if ((seen[type >> 6] & bit) != 0) return Malformed($"extension {type}{(type == 0 ? " (server_name)" : "")} appears twice");
            seen[type >> 6] |= bit;
            if (type == 0 && ServerName(body, out serverName) is { } problem) return Malformed(problem);
        }
        return serverName is null
            ? new(HelloStatus.NoSni, Problem: "the ClientHello has no server_name extension")
            : new(HelloStatus.Sni, serverName);
    }

    /// <summary>
    /// The server_name extension's one host_name (RFC 6066 §3), normalized; null when it is well formed, else why not.
    /// Exactly one entry of type host_name, as OpenSSL and BoringSSL take it: RFC 6066 forbids two names of one type,
    /// and no other type was ever defined, so an entry of another type is refused too rather than skipped (a reader in
    /// front that took the first entry whatever its type would route by another name).
    /// </summary>
    private static string? ServerName(ReadOnlySpan<byte> extension, out string? serverName)
    {
        serverName = null;
        var names = new Reader(extension);
        if (!names.U16(out var listLength) || listLength != names.Left || listLength == 0) return "bad server_name list";
        if (!names.Byte(out var nameType) || !names.U16(out var nameLength) || !names.Slice(nameLength, out var name)) return "a truncated server name";
        if (nameType != 0) return $"a server name of type {nameType}, not host_name (0)";
        if (!names.AtEnd) return "more than one server name in the server_name extension";
        if (name.IsEmpty || name.Length > 255) return $"a host_name of {name.Length} bytes";
        foreach (var c in name)
            if (c <= 0x20 || c >= 0x7f) return "a host_name with a byte that is not a printable ASCII character";
        serverName = Normalize(Encoding.ASCII.GetString(name));
        return null;
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _rest = data;

        public readonly bool AtEnd => _rest.IsEmpty;
        public readonly int Left => _rest.Length;

        public bool Skip(int n)
        {
            if (n > _rest.Length) return false;
            _rest = _rest[n..];
            return true;
        }

        public bool Byte(out int value)
        {
            value = _rest.IsEmpty ? 0 : _rest[0];
            return Skip(1);
        }

        public bool U16(out int value)
        {
            value = _rest.Length < 2 ? 0 : (_rest[0] << 8) | _rest[1];
            return Skip(2);
        }

        public bool Slice(int n, out ReadOnlySpan<byte> slice)
        {
            slice = n <= _rest.Length ? _rest[..n] : default;
            return Skip(n);
        }
    }
}
