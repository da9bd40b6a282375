using System.Buffers.Binary;
using System.Net;
using System.Text;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Preamble;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.DataPlane;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.Security;

/// <summary>ClientHellos built byte by byte: the extensions given, nothing else a TLS library would add or refuse to send.</summary>
internal static class HandHello
{
    public static byte[] Extension(int type, byte[] body)
    {
        var e = new byte[4 + body.Length];
        BinaryPrimitives.WriteUInt16BigEndian(e, (ushort)type);
        BinaryPrimitives.WriteUInt16BigEndian(e.AsSpan(2), (ushort)body.Length);
        body.CopyTo(e, 4);
        return e;
    }

    /// <summary>A server_name extension with these entries (type 0 = host_name), in this order.</summary>
    public static byte[] ServerName(params (int Type, string Name)[] names)
    {
        var list = names.SelectMany(n => new[] { (byte)n.Type, (byte)(n.Name.Length >> 8), (byte)n.Name.Length }.Concat(Encoding.ASCII.GetBytes(n.Name))).ToArray();
        return Extension(0, [(byte)(list.Length >> 8), (byte)list.Length, .. list]);
    }

    public static byte[] ServerName(string name) => ServerName((0, name));

    /// <summary>supported_groups (10) with x25519: a second extension to duplicate.</summary>
    public static byte[] SupportedGroups() => Extension(10, [0, 2, 0, 0x1d]);

    /// <summary>One TLS record holding a ClientHello with <paramref name="extensions"/>, in this order.</summary>
    public static byte[] Hello(params byte[][] extensions)
    {
        var all = extensions.SelectMany(e => e).ToArray();
        byte[] body = [3, 3, .. new byte[32], 0, 0, 2, 0x13, 0x01, 1, 0, (byte)(all.Length >> 8), (byte)all.Length, .. all];
        byte[] handshake = [1, (byte)(body.Length >> 16), (byte)(body.Length >> 8), (byte)body.Length, .. body];
        return [22, 3, 1, (byte)(handshake.Length >> 8), (byte)handshake.Length, .. handshake];
    }
}

/// <summary>
/// The parser on hand-built ClientHellos: an extension type twice (server_name or any other) and two server names in one
/// list are malformed, as OpenSSL, BoringSSL and Go refuse them; one host_name is read whatever else is there.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class DuplicateExtensionParserTests
{
    private const int Max = 16 * 1024;

    [Fact]
    public void One_server_name_among_other_extensions_is_read()
    {
        var result = ClientHello.Read(HandHello.Hello(HandHello.SupportedGroups(), HandHello.ServerName("Alpha.Example.com"), HandHello.Extension(43, [2, 3, 4])), Max);
        Assert.Equal((HelloStatus.Sni, "alpha.example.com"), (result.Status, result.ServerName));
    }

    [Fact]
    public void Two_different_GREASE_extensions_as_Chrome_sends_them_are_no_duplicates()
    {
        // BoringSSL sends two GREASE types (0x?A?A), made different, one empty and one with a byte.
        var result = ClientHello.Read(HandHello.Hello(HandHello.Extension(0x1a1a, []), HandHello.ServerName("grease.example.com"), HandHello.Extension(0xfafa, [0])), Max);
        Assert.Equal((HelloStatus.Sni, "grease.example.com"), (result.Status, result.ServerName));
    }

    public static TheoryData<string, byte[], string> Refused => new()
    {
        { "one GREASE type twice", HandHello.Hello(HandHello.Extension(0x0a0a, []), HandHello.ServerName("alpha.example.com"), HandHello.Extension(0x0a0a, [0])), "appears twice" },
        { "two server_name extensions", HandHello.Hello(HandHello.ServerName("alpha.example.com"), HandHello.ServerName("evil.example.org")), "extension 0 (server_name) appears twice" },
        { "two apart", HandHello.Hello(HandHello.ServerName("alpha.example.com"), HandHello.SupportedGroups(), HandHello.ServerName("alpha.example.com")), "extension 0 (server_name) appears twice" },
        { "two host_names in one list", HandHello.Hello(HandHello.ServerName((0, "alpha.example.com"), (0, "evil.example.org"))), "more than one server name" },
        { "another name type first", HandHello.Hello(HandHello.ServerName((1, "evil.example.org"), (0, "alpha.example.com"))), "a server name of type 1, not host_name (0)" },
        { "another extension twice", HandHello.Hello(HandHello.SupportedGroups(), HandHello.ServerName("alpha.example.com"), HandHello.SupportedGroups()), "extension 10 appears twice" },
        { "a duplicate after the name", HandHello.Hello(HandHello.ServerName("alpha.example.com"), HandHello.Extension(65281, []), HandHello.Extension(65281, [])), "extension 65281 appears twice" },
        { "a truncated extension after the name", HandHello.Hello(HandHello.ServerName("alpha.example.com"), [0, 10, 0, 9, 1]), "a truncated extension" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void Is_malformed(string what, byte[] hello, string problem)
    {
        var result = ClientHello.Read(hello, Max);
        Assert.True(result.Status == HelloStatus.Malformed, $"{what}: {result.Status} {result.ServerName} {result.Problem}");
        Assert.Contains(problem, result.Problem);
    }
}

/// <summary>
/// Real sockets: a PASSTHROUGH gateway routing by SNI to an upstream that echoes every byte. A hand-built hello with one
/// name is routed (the control); with two names, or any extension twice, the connection is closed before an upstream is
/// dialled, flag DPE, the access log saying why. Node on 127.160.10.1, upstream 127.160.10.11, clients 127.160.10.100.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class DuplicateExtensionTests : IAsyncLifetime
{
    private static readonly AddressBlock Block = AddressBlocks.Of(160);
    private static readonly IPEndPoint Gateway = Block.At(10, 1, 18443);
    private static readonly string Client = Block.Host(10, 100);
    private TestRouter _router = null!;
    private ByteEchoServer _upstream = null!;

    public async Task InitializeAsync()
    {
        _upstream = new ByteEchoServer(Block.At(10, 11, 9443));
        _router = TestRouter.Start("dup-ext", Labels.Of(("istio", "dup-ext")), settings: "akkal4.data-plane.preamble-timeout = 5s");
        await _router.ApplyAsync(1,
            Service("alpha", Block.Host(10, 21), 9443, 9443, "alpha"),
            WorkloadEntry("alpha", Block.Host(10, 11), "{app: alpha}"),
            Gateway("dup-gw", "default", $$"""
            selector: {istio: dup-ext}
            servers:
            - port: {number: 18443, name: tls, protocol: TLS}
              bind: {{Block.Host(10, 1)}}
              hosts: ['*.example.com']
              tls: {mode: PASSTHROUGH}
            """),
            VirtualService("by-sni", "default", """
            hosts: ['*.example.com']
            gateways: [dup-gw]
            tls:
            - match: [{sniHosts: [alpha.example.com]}]
              route: [{destination: {host: alpha, port: {number: 9443}}}]
            """));
    }

    public async Task DisposeAsync()
    {
        await _router.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Fact]
    public async Task A_hello_with_two_names_or_an_extension_twice_is_refused_DPE_and_one_with_one_name_is_routed()
    {
        // The control: the same construction with one name reaches the upstream, which echoes the hello back.
        var good = HandHello.Hello(HandHello.SupportedGroups(), HandHello.ServerName("alpha.example.com"));
        await using (var client = await TestClient.ConnectAsync(Client, Gateway))
        {
            await client.SendAsync(good);
            var echoed = new byte[good.Length];
            using var cts = new CancellationTokenSource(Patience);
            for (var at = 0; at < echoed.Length; )
            {
                var n = await client.ReceiveAsync(echoed.AsMemory(at), cts.Token);
                Assert.True(n > 0, $"the routed hello came back short: {at} of {good.Length} bytes");
                at += n;
            }
            Assert.Equal(good, echoed);
            client.ShutdownSend();
            await client.ReadToCloseAsync();
            var entry = await _router.Log.ForAsync(client.Id);
            Assert.Equal((ResponseFlags.None, "alpha.example.com"), (entry.Flags, entry.Sni));
        }
        var malformedBefore = _router.Metrics["envoy_tls_inspector_client_hello_malformed"];

        (string What, byte[] Hello, string Detail)[] smuggled =
        [
            // Routed by the first name before: whatever reads the second would disagree on where it goes.
            ("two server_name extensions", HandHello.Hello(HandHello.ServerName("alpha.example.com"), HandHello.ServerName("evil.example.org")), "extension 0 (server_name) appears twice"),
            ("two host_names in one list", HandHello.Hello(HandHello.ServerName((0, "alpha.example.com"), (0, "evil.example.org"))), "more than one server name"),
            ("another extension twice", HandHello.Hello(HandHello.SupportedGroups(), HandHello.ServerName("alpha.example.com"), HandHello.SupportedGroups()), "extension 10 appears twice"),
        ];
        foreach (var (what, hello, detail) in smuggled)
        {
            await using var client = await TestClient.ConnectAsync(Client, Gateway);
            await client.SendAsync(hello);
            var end = await client.ReadToCloseAsync();
            Assert.True(end.NoData, $"{what}: a refused connection gets nothing back, got {end.Bytes} byte(s)");
            var entry = await _router.Log.ForAsync(client.Id);
            Assert.True(entry.Flags == ResponseFlags.MalformedClientHello, $"{what}: {ResponseFlagNames.Format(entry.Flags)} {entry.Detail}");
            Assert.Equal("DPE", ResponseFlagNames.Format(entry.Flags));
            Assert.Contains($"malformed ClientHello: {detail}", entry.Detail);
            Assert.Null(entry.Cluster);
        }
        await _router.Metrics.WaitForAsync("envoy_tls_inspector_client_hello_malformed", malformedBefore + smuggled.Length);
    }
}
