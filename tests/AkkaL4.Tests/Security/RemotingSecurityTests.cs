using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using AkkaL4.Actors;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.ControlPlane;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;
using static AkkaL4.Tests.Security.SecurityKit;
using AkkaL4.Messages.Commands;

namespace AkkaL4.Tests.Security;

/// <summary>
/// Cluster remoting with mutual TLS, on real in-process nodes over loopback (127.30.1-2.x): only nodes
/// whose certificate chains to the cluster's CA join; a node with another CA's certificate, and one with
/// none, are refused and never listed by /v1/status; raw garbage on the remoting port changes nothing.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class RemotingSecurityTests
{
    /// <summary>How long a refused node keeps trying before the test looks: two rounds of Akka's 5 s seed-node timeout.</summary>
    private static readonly TimeSpan JoinAttempts = TimeSpan.FromSeconds(12);

    [Fact]
    public async Task Only_nodes_with_a_certificate_of_the_cluster_CA_join()
    {
        var ca = NewCa("cluster");
        await using var a = StartNode("tls-a", "127.30.1.1", NodeTls(ca, "a"));
        await using var b = StartNode("tls-b", "127.30.1.2", NodeTls(ca, "b"), a.ClusterAddress);
        await AllUpAsync(a, 2);
        Assert.StartsWith("akka.ssl.tcp://", a.ClusterAddress);
        await using var admin = await AdminServer.StartAsync(a, new IPEndPoint(IPAddress.Parse("127.30.1.1"), FreePort()), null);

        // Another CA's node certificate; another CA used directly (self-signed); and no TLS at all, aimed at the same port.
        await using var foreign = StartNode("tls-foreign", "127.30.1.3", NodeTls(NewCa("intruder"), "x"), a.ClusterAddress);
        await using var selfSigned = StartNode("tls-self", "127.30.1.4", SharedTls(NewCa("other")), a.ClusterAddress);
        await using var plain = StartNode("tls-plain", "127.30.1.5", null, a.ClusterAddress.Replace("akka.ssl.tcp://", "akka.tcp://"));
        var intruders = new[] { foreign, selfSigned, plain }.Select(n => n.ClusterAddress).ToList();

        for (var until = DateTime.UtcNow + JoinAttempts; DateTime.UtcNow < until; await Task.Delay(200))
        {
            var members = Cluster.Get(a.ClusterSystem).State.Members.Select(m => m.Address.ToString()).ToList();
            Assert.True(members.Count == 2 && !members.Intersect(intruders).Any(), $"members: {string.Join(", ", members)}");
        }
        foreach (var intruder in new[] { foreign, selfSigned, plain })
            Assert.DoesNotContain(Cluster.Get(intruder.ClusterSystem).State.Members, m => m.Address.ToString() == a.ClusterAddress);

        using var http = new HttpClient { BaseAddress = new Uri($"http://{admin.Address}"), Timeout = Patience };
        var status = JsonDocument.Parse(await http.GetStringAsync("/v1/status")).RootElement;
        var listed = status.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("address").GetString()).Order().ToList();
        Assert.Equal(new[] { a.ClusterAddress, b.ClusterAddress }.Order(), listed);

        // The same cluster takes a node whose certificate its CA signed: the refusals above were about trust.
        await using var c = StartNode("tls-c", "127.30.1.6", NodeTls(ca, "c"), a.ClusterAddress);
        await AllUpAsync(a, 3);
    }

    /// <summary>
    /// A certificate the cluster's CA signed for another purpose (here an HTTPS server's: serverAuth and clientAuth, as
    /// an earlier <c>cert create</c> made them, but not AkkaL4's member usage) is no member's: the node refuses it, naming
    /// what it lacks, and it never joins; before, any certificate the CA signed joined (sec13 §9).
    /// </summary>
    [Fact]
    public async Task A_certificate_of_the_cluster_CA_made_for_another_purpose_does_not_join()
    {
        var ca = NewCa("purpose");
        // Warnings logged (StartNode's nodes log errors only): remoting's refusal is one.
        await using var a = RouterNode.Start(new RouterNodeOptions
        {
            Name = "purpose-a",
            Tls = NodeTls(ca, "a"),
            Overrides = "akka.loglevel = WARNING\nakka.stdout-loglevel = ERROR\nakka.remote.dot-netty.tcp { hostname = \"127.194.1.1\", port = 0 }",
        });
        var refusals = Warnings(a.ClusterSystem);
        await using var b = StartNode("purpose-b", "127.194.1.2", NodeTls(ca, "b"), a.ClusterAddress);
        await AllUpAsync(a, 2);

        using var https = RemotingTlsUpgradeTests.Https(ca, "admin.example");
        Assert.True(RemotingTls.ChainsTo(https, null, [ca]), "the HTTPS certificate chains to the cluster CA: the refusal below is about its purpose");
        await using var intruder = StartNode("purpose-https", "127.194.1.3", new RemotingTls(https, [X509CertificateLoader.LoadCertificate(ca.RawData)]), a.ClusterAddress);

        await EventuallyAsync(() => Task.FromResult(refusals.Any(w => w.Contains("CN=admin.example") && w.Contains(RemotingTls.NodeUsage) && w.Contains("akkal4 cert create"))),
            () => $"a refuses the HTTPS certificate naming the usage it lacks (warnings: {string.Join(" | ", refusals)})", TimeSpan.FromSeconds(45));
        var members = Cluster.Get(a.ClusterSystem).State.Members.Select(m => m.Address.ToString()).ToList();
        Assert.Equal(new[] { a.ClusterAddress, b.ClusterAddress }.Order(), members.Order());
        Assert.DoesNotContain(Cluster.Get(intruder.ClusterSystem).State.Members, m => m.Address.ToString() == a.ClusterAddress);
    }

    /// <summary>
    /// A rolling upgrade of a cluster sharing one <c>ca.p12</c> made by an earlier <c>cert create</c> (no member usage,
    /// review1-s14 R1): nodes on it join one another, and a node already moved to its own certificate of that CA joins them.
    /// </summary>
    [Fact]
    public async Task Nodes_sharing_a_ca_p12_of_an_earlier_version_and_a_node_certificate_of_it_form_one_cluster()
    {
        var old = RemotingTlsUpgradeTests.OldCa("upgrade");
        await using var a = StartNode("upgrade-a", "127.195.100.1", RemotingTlsUpgradeTests.Loaded([old]));
        await using var b = StartNode("upgrade-b", "127.195.100.2", RemotingTlsUpgradeTests.Loaded([old]), a.ClusterAddress);
        await using var c = StartNode("upgrade-c", "127.195.100.3", RemotingTlsUpgradeTests.Loaded(AkkaL4.Node.Cli.CertCommand.NodeCertificate(old, "c", 1)), a.ClusterAddress);
        await AllUpAsync(a, 3);
    }

    [Fact]
    public void A_node_certificate_without_the_member_usage_is_refused_at_start_saying_how_to_make_one()
    {
        var ca = NewCa("old-style");
        using var old = RemotingTlsUpgradeTests.Https(ca, "n1");
        var path = Path.Combine(Path.GetTempPath(), $"akkal4-old-style-{Guid.NewGuid():N}.p12");
        File.WriteAllBytes(path, new X509Certificate2Collection { old, X509CertificateLoader.LoadCertificate(ca.RawData) }.Export(X509ContentType.Pkcs12, Password)!);
        try
        {
            var refused = Assert.Throws<InvalidDataException>(() => RemotingTls.Load(path, Password));
            Assert.Equal($"{path}: its certificate (CN=n1) {RemotingTls.NodeUsageMissing}", refused.Message);
            Assert.Contains("akkal4 cert create --ca CA.p12 --out NODE.p12", refused.Message);
        }
        finally { File.Delete(path); }

        // What cert create makes carries it, the CA (usable as every node's certificate) included.
        Assert.True(RemotingTls.IsNodeCertificate(NodeTls(ca, "n2").Certificate) && RemotingTls.IsNodeCertificate(ca));
        Assert.False(NodeTls(ca, "n3").Trusts(old, null), "a certificate of the cluster CA without the member usage is trusted");
    }

    /// <summary>The warnings <paramref name="system"/> logs from now on (remoting's refusals are the cluster side's).</summary>
    private static ConcurrentQueue<string> Warnings(ActorSystem system)
    {
        var lines = new ConcurrentQueue<string>();
        var collector = system.ActorOf(Props.Create(() => new Collector(lines)));
        system.EventStream.Subscribe(collector, typeof(Warning));
        return lines;
    }

    private sealed class Collector : ReceiveActor
    {
        public Collector(ConcurrentQueue<string> lines) => Receive<LogEvent>(e => lines.Enqueue(e.Message?.ToString() ?? ""));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Garbage_on_the_remoting_port_does_not_disturb_the_cluster(bool tls)
    {
        var ca = NewCa("garbage");
        var subnet = tls ? "127.30.2" : "127.30.3";
        await using var a = StartNode("junk-a", $"{subnet}.1", tls ? NodeTls(ca, "a") : null);
        await using var b = StartNode("junk-b", $"{subnet}.2", tls ? NodeTls(ca, "b") : null, a.ClusterAddress);
        await AllUpAsync(a, 2);
        await EventuallyAsync(async () => (await AppliedAsync(b, 1, Service("junk1", "junk", $"{subnet}.101"))), "a first write is accepted", TimeSpan.FromSeconds(45));

        var target = new IPEndPoint(IPAddress.Parse($"{subnet}.1"), RemotingPort(a));
        var attacks = Enumerable.Range(0, 40).Select(async i =>
        {
            using var client = new TcpClient(new IPEndPoint(IPAddress.Parse($"{subnet}.200"), 0));
            await client.ConnectAsync(target);
            var stream = client.GetStream();
            var junk = new byte[i % 4 == 0 ? 65536 : 512];
            new Random(i).NextBytes(junk);
            // A frame header claiming 2 GiB, a TLS record header claiming the most, or plain noise.
            if (i % 3 == 0) { junk[0] = 0x7f; junk[1] = junk[2] = junk[3] = 0xff; }
            if (i % 3 == 1) { junk[0] = 0x16; junk[1] = 0x03; junk[2] = 0x01; junk[3] = junk[4] = 0xff; }
            try
            {
                await stream.WriteAsync(junk);
                await stream.FlushAsync();
                // Half of them stay a while, the rest hang up at once.
                if (i % 2 == 0) await Task.Delay(500);
            }
            catch (IOException) { } // the node may hang up first: that is what it should do
        }).ToList();
        await Task.WhenAll(attacks);

        await AllUpAsync(a, 2);
        await AllUpAsync(b, 2);
        Assert.True(await AppliedAsync(b, 2, Service("junk1", "junk", $"{subnet}.101"), Service("junk2", "junk", $"{subnet}.102")),
            "a write after the garbage is in force on both nodes");
        Assert.True(await a.WaitForRevisionAsync(2, Patience));
    }

    /// <summary>Applies through <paramref name="node"/>'s writer; true when accepted at <paramref name="revision"/> or later and in force there.</summary>
    private static async Task<bool> AppliedAsync(RouterNode node, long revision, params string[] documents)
    {
        object reply;
        try { reply = await node.AskWriterAsync(new Actors.ControlPlane.ApplyConfig(Decode(documents)), TimeSpan.FromSeconds(20)); }
        catch (Akka.Actor.AskTimeoutException) { return false; }
        return reply is ConfigAccepted accepted && accepted.Revision >= revision
               && await node.WaitForRevisionAsync(accepted.Revision, Patience);
    }
}
