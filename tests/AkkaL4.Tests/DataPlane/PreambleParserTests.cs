using System.Net;
using System.Text;
using AkkaL4.Actors.DataPlane.Preamble;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane;

/// <summary>The ClientHello reader on real .NET ClientHellos (whole, split, refragmented, broken) and the PROXY protocol parser and writer.</summary>
[Trait("Category", "Unit")]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public class PreambleParserTests
{
    private const int Max = 16 * 1024;

    [Fact]
    public async Task A_real_ClientHello_gives_its_SNI_and_every_shorter_prefix_asks_for_more()
    {
        var hello = await TlsClient.ClientHelloAsync("Alpha.Example.COM");
        var result = ClientHello.Read(hello, Max);
        Assert.Equal(HelloStatus.Sni, result.Status);
        Assert.Equal("alpha.example.com", result.ServerName);
        // Records split across reads: every prefix is a valid beginning.
        for (var n = 0; n < RecordsLength(hello); n++)
            Assert.Equal(HelloStatus.NeedMore, ClientHello.Read(hello.AsSpan(0, n), Max).Status);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(100)]
    public async Task A_ClientHello_fragmented_across_records_is_put_together(int fragment)
    {
        var hello = await TlsClient.ClientHelloAsync("beta.example.com");
        var refragmented = Refragment(hello, fragment);
        Assert.True(refragmented.Length > hello.Length);
        var result = ClientHello.Read(refragmented, Max);
        Assert.Equal(HelloStatus.Sni, result.Status);
        Assert.Equal("beta.example.com", result.ServerName);
        Assert.Equal(HelloStatus.NeedMore, ClientHello.Read(refragmented.AsSpan(0, refragmented.Length - 1), Max).Status);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(100000)] // one record
    public async Task Read_as_it_arrives_a_ClientHello_allocates_nothing_until_it_is_complete(int fragment)
    {
        var hello = Refragment(await TlsClient.ClientHelloAsync("gamma.example.com"), fragment);
        var progress = default(ClientHello.Progress);
        ClientHello.Read(hello.AsSpan(0, 3), Max, ref progress); // JIT
        progress = default;
        var before = GC.GetAllocatedBytesForCurrentThread();
        // A byte at a time, as a client could send it: each read goes on from the records already walked.
        var wrong = 0;
        for (var n = 1; n < hello.Length; n++)
            if (ClientHello.Read(hello.AsSpan(0, n), Max, ref progress).Status != HelloStatus.NeedMore) wrong++;
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, wrong);
        Assert.Equal(0, allocated);
        var result = ClientHello.Read(hello, Max, ref progress);
        Assert.Equal((HelloStatus.Sni, "gamma.example.com"), (result.Status, result.ServerName));
    }

    [Fact]
    public async Task A_ClientHello_without_a_server_name_has_no_SNI()
    {
        // .NET sends no server_name for an empty target host.
        var hello = await TlsClient.ClientHelloAsync("");
        Assert.Equal(HelloStatus.NoSni, ClientHello.Read(hello, Max).Status);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n", HelloStatus.NotTls)]
    [InlineData("SSH-2.0-OpenSSH\r\n", HelloStatus.NotTls)]
    public void Plain_text_is_not_TLS(string text, HelloStatus expected) =>
        Assert.Equal(expected, ClientHello.Read(Encoding.ASCII.GetBytes(text), Max).Status);

    [Fact]
    public async Task Broken_hellos_are_malformed_and_an_oversized_one_is_refused_before_it_is_read()
    {
        var hello = await TlsClient.ClientHelloAsync("alpha.example.com");
        // A handshake message that is not a ClientHello (ServerHello = 2).
        var notClientHello = (byte[])hello.Clone();
        notClientHello[5] = 2;
        Assert.Equal(HelloStatus.Malformed, ClientHello.Read(notClientHello, Max).Status);
        // A record of another type inside the hello.
        var alert = Refragment(hello, 50);
        alert[55] = 21;
        Assert.Equal(HelloStatus.Malformed, ClientHello.Read(alert, Max).Status);
        // A ClientHello claiming more than the limit.
        var huge = (byte[])hello.Clone();
        huge[6] = 0x01; // 24-bit length: 65536 + ...
        Assert.Equal(HelloStatus.Malformed, ClientHello.Read(huge, Max).Status);
        // A zero-length record.
        Assert.Equal(HelloStatus.Malformed, ClientHello.Read(new byte[] { 22, 3, 1, 0, 0 }, Max).Status);
        // Inner lengths that overrun the message: the extensions length, bumped.
        var overrun = (byte[])hello.Clone();
        var extensionsAt = ExtensionsLengthOffset(hello);
        overrun[extensionsAt + 1] ^= 0x01;
        Assert.Equal(HelloStatus.Malformed, ClientHello.Read(overrun, Max).Status);
    }

    [Fact]
    public async Task Random_damage_never_throws_and_never_invents_a_different_name()
    {
        var hello = await TlsClient.ClientHelloAsync("alpha.example.com");
        var random = new Random(16);
        for (var i = 0; i < 5000; i++)
        {
            var damaged = (byte[])hello.Clone();
            for (var k = random.Next(1, 4); k > 0; k--) damaged[random.Next(damaged.Length)] = (byte)random.Next(256);
            var cut = damaged.AsSpan(0, random.Next(damaged.Length + 1));
            var result = ClientHello.Read(cut, Max);
            if (result.Status == HelloStatus.Sni)
                Assert.True(result.ServerName!.Length <= 255 && result.ServerName.All(c => c > ' ' && c < 0x7f), result.ServerName);
        }
        for (var i = 0; i < 2000; i++)
        {
            var noise = new byte[random.Next(0, 300)];
            random.NextBytes(noise);
            if (noise.Length > 0 && random.Next(2) == 0) noise[0] = 22;
            ClientHello.Read(noise, Max);
        }
    }

    // ---------------------------------------------------------------- PROXY protocol

    [Theory]
    [InlineData("PROXY TCP4 10.1.2.3 127.60.0.1 5555 443\r\n", "10.1.2.3:5555", "127.60.0.1:443")]
    [InlineData("PROXY TCP6 2001:db8::1 ::1 65535 80\r\n", "[2001:db8::1]:65535", "[::1]:80")]
    [InlineData("PROXY UNKNOWN\r\n", null, null)]
    [InlineData("PROXY UNKNOWN ffff:f...f ffff:f...f 65535 65535\r\n", null, null)]
    public void V1_headers_parse_and_every_prefix_asks_for_more(string header, string? source, string? destination)
    {
        var bytes = Encoding.ASCII.GetBytes(header + "payload");
        var parsed = ProxyProtocol.Parse(bytes);
        Assert.Equal(ProxyStatus.Done, parsed.Status);
        Assert.Equal(header.Length, parsed.Length);
        Assert.Equal(source, parsed.Header!.Source?.ToString());
        Assert.Equal(destination, parsed.Header.Destination?.ToString());
        for (var n = 0; n < header.Length; n++) Assert.Equal(ProxyStatus.NeedMore, ProxyProtocol.Parse(bytes.AsSpan(0, n)).Status);
    }

    [Theory]
    [InlineData("10.9.8.7", 40000, "127.60.0.1", 443)]
    [InlineData("2001:db8::7", 1, "2001:db8::1", 65535)]
    [InlineData("10.9.8.7", 40000, "::1", 443)] // mixed families are written as IPv6
    public void Written_headers_parse_back(string source, int sourcePort, string destination, int destinationPort)
    {
        var src = new IPEndPoint(IPAddress.Parse(source), sourcePort);
        var dst = new IPEndPoint(IPAddress.Parse(destination), destinationPort);
        foreach (var (version, header) in new[] { (1, ProxyProtocol.V1(src, dst)), (2, ProxyProtocol.V2(src, dst)) })
        {
            var parsed = ProxyProtocol.Parse([.. header, .. "rest"u8]);
            Assert.Equal(ProxyStatus.Done, parsed.Status);
            Assert.Equal(header.Length, parsed.Length);
            Assert.Equal(version, parsed.Header!.Version);
            Assert.Equal(src.Address.MapToIPv6(), parsed.Header.Source!.Address.MapToIPv6());
            Assert.Equal(sourcePort, parsed.Header.Source.Port);
            Assert.Equal(dst.Address.MapToIPv6(), parsed.Header.Destination!.Address.MapToIPv6());
            for (var n = 0; n < header.Length; n++) Assert.Equal(ProxyStatus.NeedMore, ProxyProtocol.Parse(header.AsSpan(0, n)).Status);
        }
    }

    [Fact]
    public void V2_skips_TLVs_and_treats_LOCAL_and_UNSPEC_as_no_client_address()
    {
        var header = ProxyProtocol.V2(new IPEndPoint(IPAddress.Parse("10.0.0.1"), 1000), new IPEndPoint(IPAddress.Parse("10.0.0.2"), 2000));
        // Append a TLV (type 0x04 NOOP, 3 bytes) and fix the length.
        byte[] withTlv = [.. header, 0x04, 0x00, 0x03, 1, 2, 3];
        withTlv[15] += 6;
        var parsed = ProxyProtocol.Parse(withTlv);
        Assert.Equal(ProxyStatus.Done, parsed.Status);
        Assert.Equal(withTlv.Length, parsed.Length);
        Assert.Equal("10.0.0.1:1000", parsed.Header!.Source!.ToString());

        var local = (byte[])header.Clone();
        local[12] = 0x20;
        Assert.Null(ProxyProtocol.Parse(local).Header!.Source);
        byte[] unspec = [.. header[..13], 0x00, 0x00, 0x00];
        var unspecParsed = ProxyProtocol.Parse(unspec);
        Assert.Equal(ProxyStatus.Done, unspecParsed.Status);
        Assert.Null(unspecParsed.Header!.Source);
    }

    [Fact]
    public void V2_unix_socket_addresses_are_216_bytes_and_the_TLVs_after_them_must_be_whole()
    {
        var signature = ProxyProtocol.V2(new IPEndPoint(IPAddress.Parse("10.0.0.1"), 1), new IPEndPoint(IPAddress.Parse("10.0.0.2"), 2))[..12];
        byte[] Unix(int addresses, params byte[] tlvs)
        {
            var length = addresses + tlvs.Length;
            return [.. signature, 0x21, 0x31, (byte)(length >> 8), (byte)length, .. new byte[addresses], .. tlvs];
        }
        var whole = ProxyProtocol.Parse(Unix(216, 0x04, 0x00, 0x01, 7));
        Assert.Equal(ProxyStatus.Done, whole.Status);
        Assert.Equal(16 + 216 + 4, whole.Length);
        Assert.Null(whole.Header!.Source);
        var tooShort = ProxyProtocol.Parse(Unix(100));
        Assert.Equal(ProxyStatus.Invalid, tooShort.Status);
        Assert.Contains("UNIX addresses need 216 bytes", tooShort.Problem);
        // A TLV that says 5 bytes and has 1: refused, as for TCP4/TCP6.
        Assert.Equal(ProxyStatus.Invalid, ProxyProtocol.Parse(Unix(216, 0x04, 0x00, 0x05, 7)).Status);
        // An embedded v4 in a v1 TCP6 address without leading zeros is still taken.
        Assert.Equal(ProxyStatus.Done, ProxyProtocol.Parse(Encoding.ASCII.GetBytes("PROXY TCP6 ::ffff:10.1.2.3 ::1 5555 80\r\n")).Status);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n", "no PROXY header")]
    [InlineData("PROXY TCP4 10.1.2.3 10.1.2.4 5555\r\n", "fields")]
    [InlineData("PROXY TCP4 10.1.2 10.1.2.4 5555 80\r\n", "addresses")]
    [InlineData("PROXY TCP4 ::1 10.1.2.4 5555 80\r\n", "addresses")]
    [InlineData("PROXY TCP6 10.1.2.3 ::1 5555 80\r\n", "addresses")]
    [InlineData("PROXY TCP6 ::ffff:1.2.3.04 ::1 5555 80\r\n", "addresses")] // an embedded v4 by the v4 rule, as inet_pton
    [InlineData("PROXY TCP6 ::1 ::ffff:01.2.3.4 5555 80\r\n", "addresses")]
    [InlineData("PROXY TCP4 10.1.2.3 10.1.2.4 65536 80\r\n", "ports")]
    [InlineData("PROXY TCP4 10.1.2.3 10.1.2.4 0080 80\r\n", "ports")]
    [InlineData("PROXY UDP4 10.1.2.3 10.1.2.4 1 2\r\n", "protocol")]
    [InlineData("PROXY TCP4 10.1.2.3 10.1.2.4 1 2\n", "CRLF")]
    public void Malformed_v1_headers_are_refused_with_a_reason(string header, string reason)
    {
        var text = header.EndsWith("\n") && !header.EndsWith("\r\n") ? header + new string('x', 120) : header;
        var parsed = ProxyProtocol.Parse(Encoding.ASCII.GetBytes(text));
        Assert.Equal(ProxyStatus.Invalid, parsed.Status);
        Assert.Contains(reason, parsed.Problem);
    }

    [Fact]
    public void Malformed_v2_headers_are_refused_with_a_reason()
    {
        var good = ProxyProtocol.V2(new IPEndPoint(IPAddress.Parse("10.0.0.1"), 1), new IPEndPoint(IPAddress.Parse("10.0.0.2"), 2));
        byte[] Damaged(int at, byte value)
        {
            var copy = (byte[])good.Clone();
            copy[at] = value;
            return copy;
        }
        Assert.Contains("version", ProxyProtocol.Parse(Damaged(12, 0x11)).Problem);
        Assert.Contains("command", ProxyProtocol.Parse(Damaged(12, 0x22)).Problem);
        Assert.Contains("family", ProxyProtocol.Parse(Damaged(13, 0x51)).Problem);
        Assert.Contains("DGRAM", ProxyProtocol.Parse(Damaged(13, 0x12)).Problem);
        Assert.Contains("12 bytes", ProxyProtocol.Parse(Damaged(15, 4)[..20]).Problem);
        Assert.Contains("signature", ProxyProtocol.Parse(Damaged(3, 0)).Problem);
    }

    [Fact]
    public void Random_bytes_never_throw_and_a_header_is_never_longer_than_the_spec_allows()
    {
        var random = new Random(2);
        var v2 = ProxyProtocol.V2(new IPEndPoint(IPAddress.Parse("10.0.0.1"), 1), new IPEndPoint(IPAddress.Parse("10.0.0.2"), 2));
        var v1 = ProxyProtocol.V1(new IPEndPoint(IPAddress.Parse("10.0.0.1"), 1), new IPEndPoint(IPAddress.Parse("10.0.0.2"), 2));
        for (var i = 0; i < 5000; i++)
        {
            var seed = random.Next(3) switch { 0 => v1, 1 => v2, _ => new byte[random.Next(1, 200)] };
            var bytes = (byte[])seed.Clone();
            if (seed.Length > 0 && seed != v1 && seed != v2) random.NextBytes(bytes);
            for (var k = random.Next(0, 4); k > 0; k--) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            var parsed = ProxyProtocol.Parse(bytes.AsSpan(0, random.Next(bytes.Length + 1)));
            if (parsed.Status == ProxyStatus.Done) Assert.InRange(parsed.Length, 15, ProxyProtocol.MaxV2);
            if (parsed.Status == ProxyStatus.Invalid) Assert.False(string.IsNullOrEmpty(parsed.Problem));
        }
        // A v1 line that never ends is refused at 107 bytes, not read forever.
        Assert.Equal(ProxyStatus.Invalid, ProxyProtocol.Parse(Encoding.ASCII.GetBytes("PROXY TCP4 " + new string('1', 200))).Status);
    }

    // ---------------------------------------------------------------- helpers

    private static int RecordsLength(byte[] hello)
    {
        var pos = 0;
        while (pos + 5 <= hello.Length && hello[pos] == 22) pos += 5 + ((hello[pos + 3] << 8) | hello[pos + 4]);
        return pos;
    }

    /// <summary>The same handshake bytes in records of at most <paramref name="size"/> bytes.</summary>
    internal static byte[] Refragment(byte[] hello, int size)
    {
        var handshake = new List<byte>();
        var pos = 0;
        while (pos + 5 <= hello.Length && hello[pos] == 22)
        {
            var length = (hello[pos + 3] << 8) | hello[pos + 4];
            handshake.AddRange(hello.AsSpan(pos + 5, length).ToArray());
            pos += 5 + length;
        }
        var output = new List<byte>();
        for (var i = 0; i < handshake.Count; i += size)
        {
            var n = Math.Min(size, handshake.Count - i);
            output.AddRange([22, hello[1], hello[2], (byte)(n >> 8), (byte)n]);
            output.AddRange(handshake.GetRange(i, n));
        }
        return output.ToArray();
    }

    /// <summary>Where the 2-byte extensions length sits in a single-record hello.</summary>
    private static int ExtensionsLengthOffset(byte[] hello)
    {
        var r = 5 + 4 + 2 + 32;
        r += 1 + hello[r];
        r += 2 + ((hello[r] << 8) | hello[r + 1]);
        r += 1 + hello[r];
        return r;
    }
}
