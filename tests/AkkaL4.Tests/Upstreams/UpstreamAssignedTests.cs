using System.Collections.Immutable;
using System.Net;
using Akka.Actor;
using AkkaL4.Actors.Routing;
using AkkaL4.Actors.Upstreams;
using AkkaL4.Actors.Upstreams.Health;
using AkkaL4.Messages.Model;

namespace AkkaL4.Tests.Upstreams;

/// <summary>
/// What a pick hands the connection to dial: the endpoint's address (an IP parsed once, a name left for the connect to
/// resolve) and the cluster's connect options, made once per endpoint by its picker rather than per connection.
/// </summary>
[Trait("Category", "Unit")]
public class UpstreamAssignedTests
{
    private static readonly UpstreamEndpoint V4 = new("10.2.0.1", 8080, 1, Labels.Empty, "web-1");
    private static readonly UpstreamEndpoint Named = new("db.example.com", 5432, 1, Labels.Empty, "db");
    private static readonly UpstreamEndpoint V6 = new("fd00::1", 80, 1, Labels.Empty, "web-6");

    private static readonly UpstreamCluster Cluster = new()
    {
        Id = "outbound|80||web.default.svc.cluster.local", Name = "outbound|80||web.default.svc.cluster.local",
        Host = "web.default.svc.cluster.local", Port = 80, Status = ClusterStatus.Ok, Detail = "",
        Endpoints = [V4, Named, V6],
        Policy = UpstreamPolicy.Default with { ConnectTimeout = TimeSpan.FromSeconds(3) },
    };

    /// <summary>Picks <paramref name="wanted"/>: every other endpoint is tried already, so it is the one left.</summary>
    private static UpstreamAssigned PickOnly(ClusterPicker picker, UpstreamEndpoint wanted)
    {
        var others = Cluster.Endpoints.Where(e => e != wanted).Select(e => e.ToString()).ToImmutableHashSet();
        var assigned = Assert.IsType<UpstreamAssigned>(picker.Pick(0, others));
        assigned.Load.Closed();
        return assigned;
    }

    [Fact]
    public void A_pick_carries_the_address_to_dial_and_the_cluster_s_connect_options()
    {
        var picker = new ClusterPicker(Cluster, new UpstreamHealth(), ActorRefs.Nobody);

        var v4 = PickOnly(picker, V4);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("10.2.0.1"), 8080), Assert.IsType<IPEndPoint>(v4.Remote));
        var v6 = PickOnly(picker, V6);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("fd00::1"), 80), Assert.IsType<IPEndPoint>(v6.Remote));
        var named = Assert.IsType<DnsEndPoint>(PickOnly(picker, Named).Remote);
        Assert.Equal(("db.example.com", 5432), (named.Host, named.Port));

        Assert.Equal(TimeSpan.FromSeconds(3), v4.Options.ConnectTimeout);
        Assert.Equal(Cluster.Policy.Keepalive, v4.Options.Keepalive);
        Assert.True(v4.Options.InlineCompletion, "a plain upstream's connect may complete inline: the relay's start follows it");
    }

    [Fact]
    public void A_TLS_upstream_s_connect_completes_on_the_pool_as_its_handshake_follows()
    {
        var tls = new UpstreamTls("SIMPLE", null, null, null, null, Seq<string>.Empty, false);
        var cluster = new UpstreamCluster
        {
            Id = Cluster.Id, Name = Cluster.Name, Host = Cluster.Host, Port = Cluster.Port, Status = Cluster.Status, Detail = "",
            Endpoints = [V4], Policy = Cluster.Policy with { Tls = tls },
        };
        var assigned = Assert.IsType<UpstreamAssigned>(new ClusterPicker(cluster, new UpstreamHealth(), ActorRefs.Nobody).Pick(0, ImmutableHashSet<string>.Empty));
        assigned.Load.Closed();

        Assert.False(assigned.Options.InlineCompletion);
    }

    [Fact]
    public void Every_connection_picked_for_an_endpoint_gets_the_same_assignment_not_one_made_per_connection()
    {
        var picker = new ClusterPicker(Cluster, new UpstreamHealth(), ActorRefs.Nobody);

        var first = PickOnly(picker, V4);
        var second = PickOnly(picker, V4);

        Assert.Same(first, second);
        Assert.Same(first.Remote, second.Remote);
        Assert.NotSame(first, PickOnly(picker, V6));
    }
}
