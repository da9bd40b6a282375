using System.Net;
using System.Text.Json;
using Akka.Actor;
using AkkaL4.Actors;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Messages.Queries;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;
using static AkkaL4.Tests.Security.SecurityKit;

namespace AkkaL4.Tests.Security;

/// <summary>One node on 127.160.11.1 for the status timeout tests; its log warnings and errors are collected.</summary>
public sealed class AdminStatusWorld() : WarningsWorld("admin-status", AddressBlocks.Of(160).Host(11, 1));

/// <summary>
/// <c>/v1/status</c>, the status page and <c>/readyz</c> when the data plane or membership does not answer: admin APIs
/// over real sockets whose asks go to an actor that never answers (a real Ask, with a short timeout), beside one asking
/// the node itself. APIs on 127.160.11.2-4, the client 127.160.11.100.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", TestCategories.EndToEnd)]
public sealed class AdminStatusTimeoutTests(AdminStatusWorld world) : IClassFixture<AdminStatusWorld>
{
    private static readonly AddressBlock Block = AddressBlocks.Of(160);
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(500);

    /// <summary>Takes every message and answers none: a dependency that does not answer.</summary>
    private sealed class Silent : ReceiveActor
    {
        public Silent() => ReceiveAny(_ => { });
    }

    [Fact]
    public async Task A_dependency_that_does_not_answer_makes_status_and_readiness_503_naming_it()
    {
        var node = world.Node;
        node.Apply([], 1);
        await EventuallyAsync(() => Task.FromResult(node.Status.InCluster), "the node is in its own cluster (it asks membership then)");
        var silent = node.System.ActorOf(Props.Create(() => new Silent()));
        var real = AdminServer.NodeQueries.Of(node);
        var noDataPlane = real with { Listeners = () => silent.Ask<IReadOnlyList<ListenerSet.ListenerStatus>>(new ListenerSet.GetListeners(), Short) };
        var noMembership = real with { MemberRevisions = () => silent.Ask<IReadOnlyDictionary<string, MemberRevision>>("revisions", Short) };
        await using var healthy = await AdminServer.StartAsync(node, Block.At(11, 2, 0), null, null, real);
        await using var dataPlaneSilent = await AdminServer.StartAsync(node, Block.At(11, 3, 0), null, null, noDataPlane);
        await using var membershipSilent = await AdminServer.StartAsync(node, Block.At(11, 4, 0), null, null, noMembership);
        var client = Block.Host(11, 100);

        // The control: the same API over the node's own answers is 200 and ready.
        using var ok = HttpFrom(client, healthy.Url);
        using (var status = await ok.GetAsync("/v1/status"))
        {
            Assert.Equal(HttpStatusCode.OK, status.StatusCode);
            using var json = JsonDocument.Parse(await status.Content.ReadAsStringAsync());
            Assert.Equal(JsonValueKind.Array, json.RootElement.GetProperty("listeners").ValueKind);
        }
        using (var ready = await ok.GetAsync("/readyz"))
            Assert.True(ready.StatusCode == HttpStatusCode.OK, await ready.Content.ReadAsStringAsync());

        // The data plane silent: no status with its listeners missing (it would read as a node without any), but a 503
        // naming it, to be asked again; the page too; and not ready, as /readyz says on its own timeout.
        using var noListeners = HttpFrom(client, dataPlaneSilent.Url);
        await AssertNotAnsweringAsync(noListeners, [AdminServer.NodeQueries.What.DataPlane]);
        using (var page = await noListeners.GetAsync("/"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, page.StatusCode);
            Assert.Contains(AdminServer.NodeQueries.What.DataPlane, await page.Content.ReadAsStringAsync());
        }
        using (var ready = await noListeners.GetAsync("/readyz"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.StartsWith("not ready: the data plane did not answer", await ready.Content.ReadAsStringAsync());
        }

        // Membership silent: the status is 503 naming it; readiness does not depend on membership (a node out of its
        // cluster still routes), so it stays ready.
        using var noRevisions = HttpFrom(client, membershipSilent.Url);
        await AssertNotAnsweringAsync(noRevisions, [AdminServer.NodeQueries.What.Membership]);
        using (var ready = await noRevisions.GetAsync("/readyz"))
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);

        // An answer, not a failure: nothing logged as an error for it.
        Assert.DoesNotContain(world.Errors, e => e.Contains("admin API"));
    }

    private static async Task AssertNotAnsweringAsync(HttpClient http, string[] silent)
    {
        using var status = await http.GetAsync("/v1/status");
        var body = await status.Content.ReadAsStringAsync();
        Assert.True(status.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)status.StatusCode}: {body}");
        Assert.Equal(1, status.Headers.RetryAfter?.Delta?.TotalSeconds);
        using var json = JsonDocument.Parse(body);
        Assert.Equal(silent, json.RootElement.GetProperty("notAnswering").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains("did not answer in time", json.RootElement.GetProperty("error").GetString());
    }
}
