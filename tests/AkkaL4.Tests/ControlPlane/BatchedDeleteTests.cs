using System.Net;
using Akka.Actor;
using AkkaL4.Actors;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Queries;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// <c>akkal4 delete -f</c> naming several resources is one write: one revision, all or nothing (deleted one by one, the
/// cluster ran, between the deletes, configurations nobody wrote: a VirtualService naming a Gateway already gone).
/// Admin API on 127.182.1.x; the Gateway binds 127.182.2.1 (a selector no node has: nothing is bound).
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", TestCategories.EndToEnd)]
public sealed class BatchedDeleteTests : IDisposable
{
    private static readonly AddressBlock Block = AddressBlocks.Of(182);
    private readonly string _directory = TempDirectory();

    public void Dispose() => DeleteDirectory(_directory);

    private string File(params string[] documents)
    {
        var path = Path.Combine(_directory, $"{Guid.NewGuid():N}.yaml");
        System.IO.File.WriteAllText(path, Manifests.Join(documents));
        return path;
    }

    private static Task<CliRun> Akkal4(params string[] args) => Akkal4Process.RunAsync(args, timeout: TimeSpan.FromSeconds(60));

    private static string[] GatewayAndRoute(string name) => Manifests.GatewayRoute(name, "write13-none", Block.Host(2, 1), 19182, "web", 9000);

    [Fact]
    public async Task Delete_f_of_a_gateway_and_its_route_is_one_revision()
    {
        await using var node = await StartNodeAsync("batched-delete");
        await using var admin = await AdminServer.StartAsync(node, Block.At(1, 1, 0), null);
        var file = File(GatewayAndRoute("bd-one"));
        var applied = await ApplyAsync(node, GatewayAndRoute("bd-one"));

        var run = await Akkal4("delete", "-f", file, "--server", admin.Url);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("Gateway/default/bd-one deleted", run.Lines);
        Assert.Contains("VirtualService/default/bd-one deleted", run.Lines);
        Assert.Equal($"revision {applied.Revision + 1}", Assert.Single(run.Lines, l => l.StartsWith("revision ", StringComparison.Ordinal)));
        var stored = await ReadAsync(node, null, "default");
        Assert.Equal(applied.Revision + 1, stored.Revision);
        Assert.DoesNotContain(stored.Resources, r => r.Metadata.Name == "bd-one");
    }

    [Fact]
    public async Task Delete_f_naming_one_resource_not_stored_deletes_nothing()
    {
        await using var node = await StartNodeAsync("batched-delete-missing");
        await using var admin = await AdminServer.StartAsync(node, Block.At(1, 2, 0), null);
        var pair = GatewayAndRoute("bd-two");
        var applied = await ApplyAsync(node, pair[0]);

        var run = await Akkal4("delete", "-f", File(pair), "--server", admin.Url);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains(run.Lines, l => l.StartsWith("error  VirtualService/default/bd-two  -  not found; nothing was deleted", StringComparison.Ordinal));
        var stored = await ReadAsync(node, null, "default");
        Assert.Equal(applied.Revision, stored.Revision);
        Assert.Contains(stored.Resources, r => r.Key.ToString() == "Gateway/default/bd-two");
    }

    [Fact]
    public async Task Delete_prints_the_warnings_it_brings_and_counts_the_old_ones()
    {
        await using var node = await StartNodeAsync("delete-warnings");
        await using var admin = await AdminServer.StartAsync(node, Block.At(1, 3, 0), null);
        var pair = GatewayAndRoute("bd-three");
        await ApplyAsync(node, [.. pair, ControlPlaneKit.Route("old-ghost", "default", "nowhere")]);

        var run = await Akkal4("delete", "Gateway", "bd-three", "--server", admin.Url);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains(run.Lines, l => l.StartsWith("Gateway/default/bd-three deleted, revision ", StringComparison.Ordinal));
        // The route names the Gateway just deleted: new with this delete, in full; the ghost's warning was there before.
        Assert.Single(run.Lines, l => l.StartsWith("warning  VirtualService/default/bd-three  spec.gateways[0]  ", StringComparison.Ordinal)
                                      && l.EndsWith(" (new)", StringComparison.Ordinal));
        Assert.DoesNotContain(run.Lines, l => l.Contains("old-ghost", StringComparison.Ordinal));
        Assert.Contains(run.Lines, l => l.StartsWith("and ", StringComparison.Ordinal) && l.Contains("as before this write", StringComparison.Ordinal));
    }

    /// <summary>A config writer of a version before batched deletes: it says so in its status (protocol 0).</summary>
    private sealed class OlderWriter : ReceiveActor
    {
        public OlderWriter(List<object> received)
        {
            Receive<ReadWriterStatus>(_ => Sender.Tell(new WriterStatus("serving", 7, null)));
            ReceiveAny(received.Add);
        }
    }

    [Fact]
    public async Task Several_deletes_to_a_writer_of_an_earlier_version_are_refused_at_once_and_nothing_is_sent()
    {
        await using var node = await StartNodeAsync("batched-delete-older");
        var received = new List<object>();
        var writer = node.ClusterSystem.ActorOf(Props.Create(() => new OlderWriter(received)));
        var client = node.ClusterSystem.ActorOf(ConfigClient.Props(writer, ActorRefs.Nobody));

        var reply = await client.Ask<object>(new DeleteResources([new ResourceKey("Gateway", "default", "a"), new ResourceKey("VirtualService", "default", "a")]),
            TimeSpan.FromSeconds(10));

        var unavailable = Assert.IsType<ConfigUnavailable>(reply);
        Assert.Contains("one resource at a time", unavailable.Reason);
        Assert.Contains("nothing was deleted", unavailable.Reason);
        // Whatever it had been sent is in its mailbox ahead of this question.
        await writer.Ask<WriterStatus>(ReadWriterStatus.Instance, TimeSpan.FromSeconds(5));
        Assert.Empty(received);
    }
}
