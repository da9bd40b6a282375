using AkkaL4.Actors.Routing;
using static AkkaL4.Tests.Routing.RoutingFixtures;

namespace AkkaL4.Tests.Routing;

/// <summary>
/// Three services in <c>default</c> (svc, a, b; one workload each) and a client in each of the namespaces default, team,
/// other and third: the world of the exportTo and precedence cases (RoutingAcceptanceTests) and of the rule sets a mesh
/// listener gets per namespace (MeshRuleSetWorkTests). Configuration only (127.0.22.x, nothing bound).
/// </summary>
internal static class VisibilityWorld
{
    public const string Svc = "127.0.22.1";
    public const string ClientDefault = "127.0.22.101", ClientTeam = "127.0.22.102", ClientOther = "127.0.22.103", ClientThird = "127.0.22.104";

    /// <summary>The world's manifests and <paramref name="more"/>.</summary>
    public static string[] With(params string[] more) =>
    [
        ServiceOnPorts("svc", "default", Svc, "svc", 9000),
        WorkloadEntry("svc-1", "127.0.22.11", "{app: svc}"),
        ServiceOnPorts("a", "default", "127.0.22.2", "a", 9000),
        WorkloadEntry("a-1", "127.0.22.12", "{app: a}"),
        ServiceOnPorts("b", "default", "127.0.22.3", "b", 9000),
        WorkloadEntry("b-1", "127.0.22.13", "{app: b}"),
        WorkloadEntry("client-default", ClientDefault, "{app: c}"),
        WorkloadEntry("client-team", ClientTeam, "{app: c}", "team"),
        WorkloadEntry("client-other", ClientOther, "{app: c}", "other"),
        WorkloadEntry("client-third", ClientThird, "{app: c}", "third"),
        .. more,
    ];

    /// <summary>A connection from <paramref name="client"/> to svc.</summary>
    public static Decision Decide(RouteSnapshot snapshot, string client) => snapshot.Decide(At(Svc, 9000), Ip(client), Ip(Svc));

    /// <summary>The short name of the host a connection from <paramref name="client"/> to svc is routed to.</summary>
    public static string HostFor(RouteSnapshot snapshot, string client)
    {
        var decision = Decide(snapshot, client);
        Assert.Equal(DecisionResult.Route, decision.Result);
        return Only(decision).Host.Split('.')[0];
    }
}
