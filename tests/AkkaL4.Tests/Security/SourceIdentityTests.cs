using System.Net;
using System.Text;
using AkkaL4.Actors.DataPlane.Preamble;
using AkkaL4.Node.Echo;
using AkkaL4.Tests.DataPlane;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.Security;

/// <summary>
/// A mesh listener whose first rule takes only clients labelled <c>role: admin</c> (to <c>trusted:</c>), the rest going to
/// <c>public:</c>; the admin is the WorkloadEntry at 127.186.3.1. Two more WorkloadEntries claim the label with addresses a
/// person reads as another IP or a host name than the parser did. PROXY headers are on, believed from 127.186.4.0/24.
/// </summary>
public sealed class SourceIdentityWorld : IAsyncLifetime
{
    internal static readonly AddressBlock Block = AddressBlocks.Of(186);
    public static readonly IPEndPoint Front = Block.At(0, 1, 9000);
    public static readonly string Admin = Block.Host(3, 1);
    /// <summary>127.186.1.10 to a person; 127.186.1.8 to .NET's parser and inet_aton (a leading zero is octal).</summary>
    public const string Octal = "127.186.1.010";
    /// <summary>A valid host name for a WorkloadEntry; 127.186.2.9 to .NET's parser and inet_aton.</summary>
    public const string Hexadecimal = "0x7fba0209";

    private EchoServer _trusted = null!, _public = null!;
    internal TestRouter Router { get; private set; } = null!;

    public static string[] Configuration() =>
    [
        Service("trusted", Block.Host(0, 21), 9000, 9000), WorkloadEntry("trusted-0", Block.Host(0, 11), "{app: trusted}"),
        Service("public", Block.Host(0, 22), 9000, 9000), WorkloadEntry("public-0", Block.Host(0, 12), "{app: public}"),
        Service("front", Block.Host(0, 1), 9000, 9000),
        VirtualService("front", "default", """
            hosts: [front]
            tcp:
            - match: [{sourceLabels: {role: admin}}]
              route: [{destination: {host: trusted}}]
            - route: [{destination: {host: public}}]
            """),
        WorkloadEntry("admin", Admin, "{role: admin}"),
        WorkloadEntry("octal", Octal, "{role: admin}"),
        WorkloadEntry("hexadecimal", Hexadecimal, "{role: admin}"),
    ];

    public async Task InitializeAsync()
    {
        _trusted = new EchoServer(Block.At(0, 11, 9000), "trusted:");
        _public = new EchoServer(Block.At(0, 12, 9000), "public:");
        Router = TestRouter.Start("sec17-identity", serveMesh: true, settings: $"""
            akka.loglevel = WARNING
            akkal4.data-plane.accept-proxy-protocol = on
            akkal4.data-plane.proxy-protocol-trusted-sources = ["127.{Block.Second}.4.0/24"]
            """);
        await Router.ApplyAsync(1, Configuration());
    }

    public async Task DisposeAsync()
    {
        await Router.DisposeAsync();
        await _public.DisposeAsync();
        await _trusted.DisposeAsync();
    }
}

/// <summary>
/// sec17, client identity on mesh listeners, where sourceLabels and sourceNamespace route by the WorkloadEntry at the
/// client's address. An address written so that a person reads one IP (or a host name) and the parser another gave that
/// workload's identity to a client the manifest does not show; now only an IP in canonical text identifies a client, and
/// the validator warns about the others. A PROXY header is read on gateway listeners only (whose rules do not look at the
/// client's identity): on a mesh listener it is the client's data, even from a trusted source. Real sockets.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class SourceIdentityTests(SourceIdentityWorld world) : IClassFixture<SourceIdentityWorld>
{
    private static readonly AddressBlock Block = SourceIdentityWorld.Block;

    [Fact]
    public async Task An_address_the_parser_reads_as_another_IP_identifies_no_client()
    {
        Assert.Equal("trusted: hi", (await TestClient.OneLineAsync(SourceIdentityWorld.Admin, SourceIdentityWorld.Front, "hi")).Reply);

        // What the parser made of them, and what a reader of the manifest would think.
        foreach (var client in new[] { Block.Host(1, 8), Block.Host(2, 9), Block.Host(1, 10) })
            Assert.Equal((client, "public: hi"), (client, (await TestClient.OneLineAsync(client, SourceIdentityWorld.Front, "hi")).Reply));
    }

    [Fact]
    public void The_validator_warns_about_such_an_address_and_names_the_IP_it_reads_as()
    {
        var report = Check([("<test>", string.Join("\n---\n", SourceIdentityWorld.Configuration()))]);

        Assert.True(report.Ok, string.Join("; ", report.Errors));
        Assert.Contains(report.Warnings, w => w.Resource == "WorkloadEntry/default/octal" && w.Field == "spec.address"
            && w.Message.Contains($"'{SourceIdentityWorld.Octal}' reads as the IP address {Block.Host(1, 8)}")
            && w.Message.Contains($"connections from {Block.Host(1, 8)} do not get this workload's labels and namespace"));
        Assert.Contains(report.Warnings, w => w.Resource == "WorkloadEntry/default/hexadecimal" && w.Field == "spec.address"
            && w.Message.Contains($"'{SourceIdentityWorld.Hexadecimal}' reads as the IP address {Block.Host(2, 9)}"));
        Assert.DoesNotContain(report.Warnings, w => w.Resource == "WorkloadEntry/default/admin");
        // A range is no address: refused, so no entry covers more than one client.
        var range = Check([("<test>", WorkloadEntry("range", $"127.{Block.Second}.3.0/24", "{role: admin}"))]);
        Assert.Contains(range.Errors, e => e.Resource == "WorkloadEntry/default/range" && e.Field == "spec.address");
    }

    [Fact]
    public async Task A_PROXY_header_on_a_mesh_listener_is_data_even_from_a_trusted_source()
    {
        // 127.186.4.1 may send PROXY headers (to gateway listeners): one naming the admin is relayed, not believed.
        var header = ProxyProtocol.V1(new IPEndPoint(IPAddress.Parse(SourceIdentityWorld.Admin), 40000), SourceIdentityWorld.Front);
        await using var client = await TestClient.ConnectAsync(Block.Host(4, 1), SourceIdentityWorld.Front);
        await client.SendAsync(header.Concat(Encoding.ASCII.GetBytes("hi\n")).ToArray());

        Assert.Equal($"public: {Encoding.ASCII.GetString(header).TrimEnd()}", await client.ReadLineAsync());
        Assert.Equal("public: hi", await client.ReadLineAsync());
        client.ShutdownSend();
        await client.ReadToCloseAsync();
        var entry = await world.Router.Log.ForAsync(client.Id);
        Assert.Equal(Block.Host(4, 1), entry.Client.Address.ToString());
    }
}
