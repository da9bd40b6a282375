using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Text;
using AkkaL4.Actors.DataPlane.Preamble;
using AkkaL4.Tests.DataPlane;
using AkkaL4.Tests.Security;
using AkkaL4.Tests.Support;
using Xunit.Abstractions;

namespace AkkaL4.Tests.Fuzz;

/// <summary>
/// The data plane's preamble parsers (what any client, or a trusted load balancer, sends before anything is checked)
/// against generated and mutated input, properties rather than examples:
/// <list type="bullet">
/// <item>nothing throws, and a result is never longer than what was read nor than the spec allows;</item>
/// <item>a prefix of the input decides nothing the whole input decides otherwise (NeedMore, or the same answer), so bytes
/// arriving in any split give one answer; read on from the records already walked (<see cref="ClientHello.Progress"/>)
/// it is the answer of one read of the same bytes;</item>
/// <item>a ClientHello generated from a model (extensions of random types, server_name lists of one or more entries,
/// duplicates) is read as the model says: one server name only when every extension type is there once and the
/// server_name extension holds one host_name; records of any size;</item>
/// <item>PROXY headers written for random endpoints parse back to them, with random TLVs (v2) and trailing bytes.</item>
/// </list>
/// Each case runs from its own seed (named on failure); the whole is bounded to about 8 s per parser. AKKAL4_FUZZ_SEED
/// changes the base seed (for longer runs by hand, with AKKAL4_FUZZ_INPUTS).
/// </summary>
[Trait("Category", TestCategories.Fuzz)]
public sealed class PreambleFuzzTests(ITestOutputHelper output)
{
    private const int Max = 16 * 1024;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(8);
    private static readonly int BaseSeed = int.TryParse(Environment.GetEnvironmentVariable("AKKAL4_FUZZ_SEED"), out var s) ? s : 4711;
    private static readonly int Inputs = int.TryParse(Environment.GetEnvironmentVariable("AKKAL4_FUZZ_INPUTS"), out var n) ? n : 100_000;

    /// <summary>Runs <paramref name="one"/> per seed until <see cref="Inputs"/> or the time budget; a failure names its seed.</summary>
    private void Run(string what, Action<Random> one)
    {
        var clock = Stopwatch.StartNew();
        var done = 0;
        for (; done < Inputs && clock.Elapsed < Budget; done++)
        {
            var seed = BaseSeed + done;
            try { one(new Random(seed)); }
            catch (Exception e) { throw new Xunit.Sdk.XunitException($"{what}: seed {seed} (AKKAL4_FUZZ_SEED={seed} AKKAL4_FUZZ_INPUTS=1 replays it): {e}"); }
        }
        output.WriteLine($"{what}: {done} inputs in {clock.Elapsed.TotalSeconds:0.0}s");
        Assert.True(done >= Math.Min(Inputs, 500), $"{what}: only {done} inputs within {Budget}");
    }

    // ---------------------------------------------------------------- ClientHello

    private sealed record Model(List<(int Type, byte[] Body)> Extensions, string? Expected);

    /// <summary>Extension types drawn; with GREASE values (0x?A?A, two different ones per Chrome hello) that must count as any other type.</summary>
    private static readonly int[] Types = [0, 0, 0, 10, 11, 13, 16, 23, 43, 45, 51, 65281, 0xfe0d, 0x0a0a, 0x1a1a, 0xfafa];

    private static string Name(Random r)
    {
        var labels = Enumerable.Range(0, r.Next(1, 4)).Select(_ => new string(Enumerable.Range(0, r.Next(1, 12)).Select(_ => (char)('a' + r.Next(26))).ToArray()));
        return string.Join('.', labels);
    }

    /// <summary>A hello's extensions and, from the rules, the name it must give (null: none may be given).</summary>
    private static Model Generate(Random r)
    {
        var extensions = new List<(int, byte[])>();
        string? name = null;
        var names = 0;
        var valid = true;
        for (var i = r.Next(0, 8); i > 0; i--)
        {
            var type = Types[r.Next(Types.Length)];
            if (type != 0)
            {
                var body = new byte[r.Next(0, 20)];
                r.NextBytes(body);
                extensions.Add((type, body));
                continue;
            }
            // One entry mostly; sometimes two, or of another name type.
            var entries = Enumerable.Range(0, r.Next(10) == 0 ? 2 : 1).Select(_ => (Type: r.Next(8) == 0 ? 1 : 0, Name: Name(r))).ToArray();
            extensions.Add((0, HandHello.ServerName(entries)[4..]));
            names++;
            if (entries is [(0, var one)]) name = one;
            else valid = false;
        }
        var duplicated = extensions.GroupBy(e => e.Item1).Any(g => g.Count() > 1);
        return new Model(extensions, valid && !duplicated && names == 1 ? name : null);
    }

    private static byte[] Build(Model model) => HandHello.Hello(model.Extensions.Select(e => HandHello.Extension(e.Type, e.Body)).ToArray());

    [Fact]
    public void Generated_ClientHellos_are_read_as_their_model_says_in_any_split()
    {
        Run("generated hellos", r =>
        {
            var model = Generate(r);
            var hello = Build(model);
            if (r.Next(3) == 0) hello = PreambleParserTests.Refragment(hello, r.Next(1, 60));
            var whole = ClientHello.Read(hello, Max);
            if (model.Expected is { } expected)
                Assert.True(whole.Status == HelloStatus.Sni && whole.ServerName == expected, $"expected SNI {expected}, got {whole}");
            else
                Assert.True(whole.Status is HelloStatus.Malformed or HelloStatus.NoSni, $"no SNI may be given, got {whole}");
            if (model.Extensions.GroupBy(e => e.Type).Any(g => g.Count() > 1))
                Assert.Equal(HelloStatus.Malformed, whole.Status);
            AssertSplitsAgree(r, hello, whole);
        });
    }

    [Fact]
    public void Mutated_ClientHellos_never_throw_and_their_prefixes_agree()
    {
        Run("mutated hellos", r =>
        {
            var hello = Build(Generate(r));
            if (r.Next(2) == 0) hello = PreambleParserTests.Refragment(hello, r.Next(1, 80));
            for (var k = r.Next(1, 5); k > 0; k--)
            {
                switch (r.Next(4))
                {
                    case 0: hello[r.Next(hello.Length)] = (byte)r.Next(256); break;
                    case 1: hello[r.Next(hello.Length)] ^= (byte)(1 << r.Next(8)); break;
                    // A length field (record, handshake, extensions) nudged.
                    case 2: hello[Math.Min(hello.Length - 1, new[] { 4, 8, 46, 50 }[r.Next(4)])] += (byte)r.Next(-2, 3); break;
                    default: hello = hello[..r.Next(1, hello.Length + 1)]; break;
                }
            }
            var whole = ClientHello.Read(hello, Max);
            if (whole.Status == HelloStatus.Sni)
                Assert.True(whole.ServerName!.Length is > 0 and <= 255 && whole.ServerName.All(c => c > ' ' && c < 0x7f && !char.IsAsciiLetterUpper(c)), whole.ServerName);
            if (whole.Status is HelloStatus.Malformed or HelloStatus.NotTls) Assert.False(string.IsNullOrEmpty(whole.Problem));
            AssertSplitsAgree(r, hello, whole);
        });
    }

    /// <summary>Every prefix answers NeedMore or <paramref name="whole"/>; read on in random chunks, the first answer is the one-read answer of those bytes.</summary>
    private static void AssertSplitsAgree(Random r, byte[] hello, HelloResult whole)
    {
        for (var i = 0; i < 4; i++)
        {
            var cut = r.Next(hello.Length + 1);
            var prefix = ClientHello.Read(hello.AsSpan(0, cut), Max);
            Assert.True(prefix.Status == HelloStatus.NeedMore || prefix == whole, $"the first {cut} of {hello.Length} bytes say {prefix}, all of them {whole}");
        }
        var progress = default(ClientHello.Progress);
        for (var at = 0; ; )
        {
            at = Math.Min(hello.Length, at + r.Next(1, 64));
            var result = ClientHello.Read(hello.AsSpan(0, at), Max, ref progress);
            if (result.Status != HelloStatus.NeedMore || at == hello.Length)
            {
                Assert.Equal(ClientHello.Read(hello.AsSpan(0, at), Max), result);
                return;
            }
        }
    }

    // ---------------------------------------------------------------- PROXY protocol

    private static IPEndPoint Endpoint(Random r, bool v6)
    {
        var bytes = new byte[v6 ? 16 : 4];
        r.NextBytes(bytes);
        return new IPEndPoint(new IPAddress(bytes), r.Next(0, 65536));
    }

    [Fact]
    public void Written_PROXY_headers_with_TLVs_parse_back_and_mutated_ones_never_throw_and_their_prefixes_agree()
    {
        Run("PROXY headers", r =>
        {
            var v6 = r.Next(2) == 0;
            var (source, destination) = (Endpoint(r, v6), Endpoint(r, v6));
            var v2 = r.Next(2) == 0;
            var header = v2 ? ProxyProtocol.V2(source, destination) : ProxyProtocol.V1(source, destination);
            if (v2 && r.Next(2) == 0)
            {
                // Whole TLVs after the addresses, the length fixed to match.
                var tlvs = Enumerable.Range(0, r.Next(1, 4)).SelectMany(_ =>
                {
                    var value = new byte[r.Next(0, 40)];
                    r.NextBytes(value);
                    return new[] { (byte)r.Next(256), (byte)(value.Length >> 8), (byte)value.Length }.Concat(value);
                }).ToArray();
                header = [.. header, .. tlvs];
                BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), (ushort)(header.Length - 16));
            }
            var trailing = new byte[r.Next(0, 30)];
            r.NextBytes(trailing);
            byte[] input = [.. header, .. trailing];
            var parsed = ProxyProtocol.Parse(input);
            Assert.True(parsed.Status == ProxyStatus.Done, $"{parsed.Status}: {parsed.Problem} for {Convert.ToHexString(header)}");
            Assert.Equal(header.Length, parsed.Length);
            Assert.Equal((source, destination), (parsed.Header!.Source, parsed.Header.Destination));
            AssertPrefixesAgree(r, input, parsed);

            // Then damaged: never a throw, a header within the spec's bound and what was read, and prefixes that agree.
            for (var k = r.Next(1, 4); k > 0; k--)
            {
                var at = r.Next(Math.Min(input.Length, 40));
                input[at] = r.Next(2) == 0 ? (byte)r.Next(256) : (byte)(input[at] ^ (1 << r.Next(8)));
            }
            var damaged = ProxyProtocol.Parse(input);
            if (damaged.Status == ProxyStatus.Done)
                Assert.InRange(damaged.Length, 15, Math.Min(input.Length, ProxyProtocol.MaxV2));
            if (damaged.Status == ProxyStatus.Invalid) Assert.False(string.IsNullOrEmpty(damaged.Problem));
            AssertPrefixesAgree(r, input, damaged);
        });
    }

    [Fact]
    public void V1_address_text_is_read_only_in_the_specs_own_form()
    {
        // A sweep of address spellings IPAddress.Parse takes and inet_pton (HAProxy's, the spec's) does not: each refused.
        string[] loose = ["010.0.0.1", "1.2.3.04", "0x7f.0.0.1", "1.2.3", "127.1", "00000001.2.3.4", "1.2.3.4 ", "+1.2.3.4"];
        foreach (var address in loose)
        {
            var parsed = ProxyProtocol.Parse(Encoding.ASCII.GetBytes($"PROXY TCP4 {address} 10.0.0.2 1 2\r\n"));
            Assert.True(parsed.Status == ProxyStatus.Invalid, $"TCP4 '{address}' read as {parsed.Header?.Source}");
        }
        foreach (var address in new[] { "[::1]:80", "[::1]", "fe80::1%2", "fe80::1%eth0", "::1 " })
        {
            var parsed = ProxyProtocol.Parse(Encoding.ASCII.GetBytes($"PROXY TCP6 {address} ::2 1 2\r\n"));
            Assert.True(parsed.Status == ProxyStatus.Invalid, $"TCP6 '{address}' read as {parsed.Header?.Source}");
        }
        Assert.Equal("0.0.0.0:1", ProxyProtocol.Parse("PROXY TCP4 0.0.0.0 10.0.0.2 1 2\r\n"u8).Header!.Source!.ToString());
        Assert.Equal("[::ffff:10.0.0.1]:1", ProxyProtocol.Parse("PROXY TCP6 ::ffff:10.0.0.1 ::2 1 2\r\n"u8).Header!.Source!.ToString());
        // A v2 TLV that claims more than the header holds is refused, as HAProxy and Envoy refuse it.
        var v2 = ProxyProtocol.V2(new IPEndPoint(IPAddress.Loopback, 1), new IPEndPoint(IPAddress.Loopback, 2));
        byte[] truncatedTlv = [.. v2, 0x04, 0x00, 0x09, 1, 2];
        truncatedTlv[15] += 5;
        Assert.Contains("TLV", ProxyProtocol.Parse(truncatedTlv).Problem);
        // A v2 header known to be refused from its first 16 bytes is refused then, not after 64 KiB more.
        byte[] badFamily = [.. v2[..13], 0x51, 0xff, 0xff];
        Assert.Equal(ProxyStatus.Invalid, ProxyProtocol.Parse(badFamily).Status);
    }

    private static void AssertPrefixesAgree(Random r, byte[] input, ProxyParse whole)
    {
        for (var i = 0; i < 4; i++)
        {
            var cut = r.Next(input.Length + 1);
            var prefix = ProxyProtocol.Parse(input.AsSpan(0, cut));
            Assert.True(prefix.Status == ProxyStatus.NeedMore || Same(prefix, whole), $"the first {cut} of {input.Length} bytes say {prefix.Status} {prefix.Problem}, all of them {whole.Status} {whole.Problem}");
        }
    }

    private static bool Same(ProxyParse a, ProxyParse b) =>
        a.Status == b.Status && a.Length == b.Length && a.Problem == b.Problem && Equals(a.Header?.Source, b.Header?.Source) && Equals(a.Header?.Destination, b.Header?.Destination);
}
