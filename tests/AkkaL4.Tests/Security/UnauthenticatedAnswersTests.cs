using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.DistributedData;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Actors;
using AkkaL4.Messages.Model;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.Security;

/// <summary>
/// What the admin API answers without the token (/readyz, /healthz, the login page, 401/404/405/413 bodies) says
/// nothing of the configuration: no Service or Gateway address, no resource's name or value, no error text that quotes
/// them, never the token. /v1/status, behind the token, says it all. 127.230.100-109.x (ops12).
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", TestCategories.EndToEnd)]
public sealed class UnauthenticatedAnswersTests
{
    private const string Token = "ops12-unauthenticated-token-7d1f";
    private static readonly AddressBlock Block = AddressBlocks.Of(230);

    private static HttpClient Client(AdminServer api, bool withToken)
    {
        var http = new HttpClient { BaseAddress = new Uri(api.Url), Timeout = Patience };
        if (withToken) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        return http;
    }

    /// <summary>Puts a configuration no writer would send (it compiles first) straight into the replicated register.</summary>
    private static void Replicate(RouterNode node, long revision, string yaml)
    {
        var replicator = DistributedData.Get(node.ClusterSystem).Replicator;
        var self = Akka.Cluster.Cluster.Get(node.ClusterSystem).SelfUniqueAddress;
        var register = new LWWRegister<ConfigContent>(self, new ConfigContent(revision, Decode(yaml)), revision);
        replicator.Tell(Dsl.Update(ConfigWriter.Key, register, WriteLocal.Instance, r => r.Merge(register)));
    }

    [Fact]
    public async Task Readyz_names_a_failed_revision_by_its_number_and_only_the_status_behind_the_token_says_why()
    {
        var node = await StartNodeAsync("ops12-failed-revision");
        try
        {
            await using var api = await AdminServer.StartAsync(node, new IPEndPoint(IPAddress.Parse(Block.Host(100, 1)), 0), Token);
            var good = await ApplyAsync(node, Service("ops12-good", "default", Block.Host(100, 2)));
            var poisonAddress = Block.Host(100, 3);
            Replicate(node, good.Revision + 1, WriteContractTests.Poison(ip: poisonAddress));
            await EventuallyAsync(() => Task.FromResult(node.Revisions.Failed == good.Revision + 1), "the node reports the revision it could not apply");

            using var anyone = Client(api, withToken: false);
            using var ready = await anyone.GetAsync("/readyz");
            var body = await ready.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            Assert.Contains($"revision {good.Revision + 1} could not be applied", body);
            // The node's error quotes the resource, its field and the value; none of it is for anyone who asks.
            Assert.Contains(WriteContractTests.PoisonField, node.Revisions.Error);
            foreach (var secret in new[] { "poison", "destinationSubnets", "::ffff", "10.0.0.0", poisonAddress, Block.Host(100, 2), Token })
                Assert.DoesNotContain(secret, body);

            using var admin = Client(api, withToken: true);
            using var status = JsonDocument.Parse(await admin.GetStringAsync("/v1/status"));
            Assert.Equal(good.Revision + 1, status.RootElement.GetProperty("revisionFailed").GetInt64());
            Assert.Contains(WriteContractTests.PoisonField, status.RootElement.GetProperty("revisionError").GetString());
            // No data directory, no copy on disk.
            Assert.Equal(JsonValueKind.Null, status.RootElement.GetProperty("lastKnownGood").ValueKind);
        }
        finally
        {
            await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task Readyz_counts_unbound_listeners_and_only_the_status_behind_the_token_names_them()
    {
        var node = await StartNodeAsync("ops12-unbound", silent: true);
        // Held without SO_REUSEPORT: the node's listener on the same address and port cannot bind.
        var held = new IPEndPoint(IPAddress.Parse(Block.Host(101, 2)), 19000);
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(held);
        holder.Listen();
        try
        {
            await using var api = await AdminServer.StartAsync(node, new IPEndPoint(IPAddress.Parse(Block.Host(101, 1)), 0), Token);
            await ApplyAsync(node, Service("ops12-held", "default", held.Address.ToString()));

            using var admin = Client(api, withToken: true);
            await EventuallyAsync(async () =>
            {
                using var status = JsonDocument.Parse(await admin.GetStringAsync("/v1/status"));
                return status.RootElement.GetProperty("listeners").EnumerateArray()
                    .Any(l => l.GetProperty("address").GetString() == held.ToString() && !l.GetProperty("bound").GetBoolean());
            }, "the status names the listener that could not bind");

            using var anyone = Client(api, withToken: false);
            using var ready = await anyone.GetAsync("/readyz");
            var body = await ready.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Contains("1 listener(s) not bound", body);
            Assert.DoesNotContain(held.Address.ToString(), body);
        }
        finally
        {
            await node.DisposeAsync();
        }
    }
}
