using System.Buffers.Binary;
using System.Net;
using AkkaL4.Actors.DataPlane.Preamble;
using AkkaL4.Tests.DataPlane;
using AkkaL4.Tests.Security;
using AkkaL4.Tests.Support;
using Xunit.Abstractions;

namespace AkkaL4.Tests.Fuzz;

/// <summary>
/// What a hostile client's preamble may cost the node, on inputs built from valid headers (truncated, bit-flipped, length
/// fields set to their largest values, hellos in one-byte records, server_name lists nested in other extensions' bodies,
/// many entries) — the bounds <see cref="PreambleFuzzTests"/> does not check:
/// <list type="bullet">
/// <item>an answer is given from the preamble's own bytes: one the input already gives (anything but NeedMore) stays the
/// same when more follows it, a whole valid preamble and random bytes, as the client's next bytes would (review1-s16 R6:
/// this replaced a check that a slice of a larger buffer reads as a copy of it, which safe code cannot fail, since a span
/// ends where it ends; what can go wrong is a parser taking the buffer's end for the header's, as TLVs checked up to it);</item>
/// <item>an answer that waits for more (NeedMore) allocates nothing, so a client dripping bytes makes each read cost no
/// garbage, whatever lengths its header claims (a v2 length of 65,535, a hello of 16 MiB);</item>
/// <item>any answer allocates at most what the input's own size warrants (a hello spanning records is copied once), never
/// what its length fields claim;</item>
/// <item>read on as it arrives (<see cref="ClientHello.Progress"/>), a byte at a time, a hello costs no more than one read.</item>
/// </list>
/// Seeded (AKKAL4_FUZZ_SEED), 3,000 inputs per parser; a failure names its seed.
/// </summary>
[Trait("Category", TestCategories.Fuzz)]
public sealed class PreambleBoundsFuzzTests(ITestOutputHelper output)
{
    private const int Max = 16 * 1024;
    private const int Inputs = 3000;
    /// <summary>Messages and the parsed result's own objects (strings of at most a few hundred characters, an address or two).</summary>
    private const int Overhead = 4096;
    private static readonly int BaseSeed = int.TryParse(Environment.GetEnvironmentVariable("AKKAL4_FUZZ_SEED"), out var s) ? s : 1616;

    private void Run(string what, Action<Random> one)
    {
        for (var i = 0; i < Inputs; i++)
        {
            var seed = BaseSeed + i;
            try { one(new Random(seed)); }
            catch (Exception e) { throw new Xunit.Sdk.XunitException($"{what}: seed {seed} (AKKAL4_FUZZ_SEED={seed}): {e}"); }
        }
        output.WriteLine($"{what}: {Inputs} inputs");
    }

    /// <summary>Bytes allocated on this thread by <paramref name="call"/>, after a first call to warm it.</summary>
    private static long Allocated<T>(Func<T> call, out T result)
    {
        call();
        var before = GC.GetAllocatedBytesForCurrentThread();
        result = call();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    // ---------------------------------------------------------------- ClientHello

    private static byte[] Hostile(Random r)
    {
        var extensions = new List<byte[]>();
        for (var i = r.Next(0, 6); i > 0; i--)
        {
            switch (r.Next(5))
            {
                case 0:
                    extensions.Add(HandHello.ServerName(Enumerable.Range(0, r.Next(1, 4)).Select(_ => (r.Next(6) == 0 ? 1 : 0, Name(r))).ToArray()));
                    break;
                case 1:
                    // A server_name list nested in another extension's body, and a very long entry.
                    extensions.Add(HandHello.Extension(r.Next(1, 70000) & 0xFFFF, HandHello.ServerName((0, Name(r)), (0, new string('a', r.Next(0, 400))))));
                    break;
                case 2:
                    extensions.Add(HandHello.Extension(r.Next(0, 65536), Bytes(r, r.Next(0, 300))));
                    break;
                default:
                    extensions.Add(HandHello.ServerName(Name(r)));
                    break;
            }
        }
        var hello = HandHello.Hello([.. extensions]);
        if (r.Next(3) == 0) hello = PreambleParserTests.Refragment(hello, r.Next(3) == 0 ? 1 : r.Next(1, 100));
        for (var k = r.Next(0, 4); k > 0; k--)
        {
            switch (r.Next(5))
            {
                case 0: hello[r.Next(hello.Length)] ^= (byte)(1 << r.Next(8)); break;
                case 1: hello[r.Next(hello.Length)] = (byte)r.Next(256); break;
                // A length field at its largest: the record's, the handshake's (24 bits), or any 16-bit one inside.
                case 2: hello[3] = hello[4] = 0xFF; break;
                case 3: hello[6] = hello[7] = hello[8] = 0xFF; break;
                default:
                    var at = r.Next(9, Math.Max(10, hello.Length - 1));
                    if (at + 1 < hello.Length) hello[at] = hello[at + 1] = 0xFF;
                    break;
            }
        }
        return r.Next(4) == 0 ? hello[..r.Next(0, hello.Length + 1)] : hello;
    }

    private static string Name(Random r) => string.Join('.', Enumerable.Range(0, r.Next(1, 4)).Select(_ => new string((char)('a' + r.Next(26)), r.Next(1, 20))));

    private static byte[] Bytes(Random r, int n)
    {
        var b = new byte[n];
        r.NextBytes(b);
        return b;
    }

    [Fact]
    public void ClientHello_answers_from_its_own_bytes_and_allocates_only_what_the_input_warrants()
    {
        Run("hostile hellos", r =>
        {
            var hello = Hostile(r);
            var alone = ClientHello.Read(hello, Max);
            if (alone.Status != HelloStatus.NeedMore)
            {
                byte[] followed = [.. hello, .. HandHello.Hello(HandHello.ServerName("past.example.com")), .. Bytes(r, r.Next(0, 100))];
                Assert.Equal(alone, ClientHello.Read(followed, Max));
            }

            var allocated = Allocated(() => ClientHello.Read(hello, Max), out var result);
            if (result.Status == HelloStatus.NeedMore) Assert.True(allocated == 0, $"NeedMore allocated {allocated} B for {hello.Length} B");
            Assert.True(allocated <= hello.Length + Overhead, $"{result.Status} allocated {allocated} B for {hello.Length} B");

            // A byte at a time, read on from the records already walked: in all, no more than the one read.
            var progress = default(ClientHello.Progress);
            var before = GC.GetAllocatedBytesForCurrentThread();
            var last = default(HelloResult);
            for (var at = 1; at <= hello.Length; at++)
            {
                last = ClientHello.Read(hello.AsSpan(0, at), Max, ref progress);
                if (last.Status != HelloStatus.NeedMore) break;
            }
            var dripped = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(dripped <= hello.Length + Overhead, $"dripped a byte at a time, {hello.Length} B cost {dripped} B");
            if (last.Status == HelloStatus.Sni) Assert.True(last.ServerName!.Length <= 255 && last.ServerName.All(c => c > ' ' && c < 0x7f));
        });
    }

    [Fact]
    public void Claimed_lengths_are_refused_or_waited_for_without_allocating_for_them()
    {
        // A handshake header claiming 16 MiB: refused at once (more than max-client-hello), nothing allocated for it.
        byte[] huge = [22, 3, 1, 0, 4, 1, 0xFF, 0xFF, 0xFF];
        Assert.Equal(HelloStatus.Malformed, ClientHello.Read(huge, Max).Status);
        Assert.True(Allocated(() => ClientHello.Read(huge, Max).Status, out _) <= Overhead);
        // Within the limit but not there yet: NeedMore, nothing allocated.
        byte[] waiting = [22, 3, 1, 0x40, 0, 1, 0, 0x3F, 0xF0, 3, 3];
        Assert.Equal(HelloStatus.NeedMore, ClientHello.Read(waiting, Max).Status);
        Assert.Equal(0, Allocated(() => ClientHello.Read(waiting, Max).Status, out _));
        // A v2 PROXY header claiming 65,535 bytes: waited for, nothing allocated.
        var v2 = ProxyProtocol.V2(new IPEndPoint(IPAddress.Loopback, 1), new IPEndPoint(IPAddress.Loopback, 2))[..16];
        BinaryPrimitives.WriteUInt16BigEndian(v2.AsSpan(14), ushort.MaxValue);
        Assert.Equal(ProxyStatus.NeedMore, ProxyProtocol.Parse(v2).Status);
        Assert.Equal(0, Allocated(() => ProxyProtocol.Parse(v2).Status, out _));
    }

    // ---------------------------------------------------------------- PROXY protocol

    private static byte[] HostileProxy(Random r)
    {
        var v6 = r.Next(2) == 0;
        var (source, destination) = (new IPEndPoint(new IPAddress(Bytes(r, v6 ? 16 : 4)), r.Next(65536)), new IPEndPoint(new IPAddress(Bytes(r, v6 ? 16 : 4)), r.Next(65536)));
        byte[] header;
        if (r.Next(2) == 0)
        {
            header = ProxyProtocol.V1(source, destination);
            // A line that never ends, or one padded past the 107-byte limit.
            if (r.Next(4) == 0) header = [.. header[..^2], .. Enumerable.Repeat((byte)'1', r.Next(1, 200))];
        }
        else
        {
            header = ProxyProtocol.V2(source, destination);
            var tlvs = Enumerable.Range(0, r.Next(0, 6)).SelectMany(_ =>
            {
                var value = Bytes(r, r.Next(0, 100));
                // A TLV that claims more than follows, sometimes the most it can.
                var claimed = r.Next(5) == 0 ? (r.Next(2) == 0 ? 0xFFFF : value.Length + r.Next(1, 10)) : value.Length;
                return new[] { (byte)r.Next(256), (byte)(claimed >> 8), (byte)claimed }.Concat(value);
            }).ToArray();
            header = [.. header, .. tlvs];
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), r.Next(6) == 0 ? ushort.MaxValue : (ushort)(header.Length - 16));
        }
        for (var k = r.Next(0, 3); k > 0; k--) header[r.Next(header.Length)] ^= (byte)(1 << r.Next(8));
        byte[] input = [.. header, .. Bytes(r, r.Next(0, 40))];
        return r.Next(4) == 0 ? input[..r.Next(0, input.Length + 1)] : input;
    }

    [Fact]
    public void PROXY_headers_are_answered_from_their_own_bytes_and_allocate_only_what_the_input_warrants()
    {
        Run("hostile PROXY headers", r =>
        {
            var input = HostileProxy(r);
            var alone = ProxyProtocol.Parse(input);
            if (alone.Status != ProxyStatus.NeedMore)
            {
                // The client's first bytes after the header: another header (which a reader past the end would take) and random ones.
                byte[] followed = [.. input, .. ProxyProtocol.V1(new IPEndPoint(IPAddress.Loopback, 1), new IPEndPoint(IPAddress.Loopback, 2)), .. Bytes(r, r.Next(0, 100))];
                Assert.Equal(alone, ProxyProtocol.Parse(followed));
            }
            if (alone.Status == ProxyStatus.Done) Assert.InRange(alone.Length, 15, input.Length);

            var allocated = Allocated(() => ProxyProtocol.Parse(input), out var result);
            if (result.Status == ProxyStatus.NeedMore) Assert.True(allocated == 0, $"NeedMore allocated {allocated} B for {input.Length} B");
            Assert.True(allocated <= 2 * input.Length + Overhead, $"{result.Status} allocated {allocated} B for {input.Length} B");
        });
    }
}
