using System.Text;
using System.Text.Json.Serialization;
using AkkaL4.Actors.Upstreams.Health;

namespace AkkaL4.Actors.Routing;

public sealed record ExplainedDestination(
    [property: JsonPropertyName("host")] string Host,
    [property: JsonPropertyName("subset")] string? Subset,
    [property: JsonPropertyName("port")] int Port,
    [property: JsonPropertyName("weight")] int Weight,
    [property: JsonPropertyName("cluster")] string Cluster,
    [property: JsonPropertyName("endpoints")] IReadOnlyList<string> Endpoints,
    [property: JsonIgnore] string Status,
    [property: JsonPropertyName("health"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ClusterHealthSnapshot? Health = null);

/// <summary>Why a connection goes where it goes: the <c>explain</c> verb's answer, as text or JSON.</summary>
public sealed record Explanation(
    [property: JsonPropertyName("result")] string Result,
    [property: JsonPropertyName("listener")] string? Listener,
    [property: JsonPropertyName("gateway")] string? Gateway,
    [property: JsonPropertyName("virtualService")] string? VirtualService,
    [property: JsonPropertyName("rule")] int? Rule,
    [property: JsonPropertyName("destinations")] IReadOnlyList<ExplainedDestination> Destinations,
    [property: JsonPropertyName("reason")] string Reason,
    [property: JsonPropertyName("client")] ClientIdentity Client)
{
    /// <summary>How a gateway's no-route reason ends: the flag of its access-log line (a refusal with another flag names that instead).</summary>
    public const string NoRouteFlag = " (NR)";

    public static string ResultName(DecisionResult result) => result switch
    {
        DecisionResult.Route => "route",
        DecisionResult.NoRoute => "no-route",
        DecisionResult.NoHealthyUpstream => "no-healthy-upstream",
        _ => "no-listener",
    };

    /// <param name="health">A running node's endpoint health (null offline: manifests say nothing of health).</param>
    /// <param name="sni">The SNI the decision was asked for, named in a TLS gateway's no-route reason.</param>
    /// <param name="sniAsked">True from <c>explain</c>, where a null <paramref name="sni"/> means none was given; the data
    /// plane leaves it false and says in its own detail what it read.</param>
    public static Explanation Of(Decision decision, UpstreamHealth? health = null, string? sni = null, bool sniAsked = false)
    {
        var target = decision.Target;
        var destinations = target?.Destinations.Select(d => new ExplainedDestination(
            d.Host, d.Subset, d.Port, d.Weight, d.Cluster.Name, d.Cluster.Endpoints.Select(e => e.ToString()).ToList(),
            d.Cluster.Status == ClusterStatus.Ok ? "" : d.Cluster.Detail,
            d.Cluster.Status == ClusterStatus.Ok ? health?.Snapshot(d.Cluster) : null)).ToList() ?? [];
        var reason = decision.Reason;
        var problems = target?.Destinations.Where(d => d.Cluster.Outcome != DecisionResult.Route).Select(d => d.Cluster.Detail).ToList() ?? [];
        if (problems.Count > 0) reason += "; " + string.Join("; ", problems);
        // No rule at all is Envoy's NR (no filter chain or route), as the data plane flags it; NC is a rule naming a cluster that does not exist.
        if (decision.Listener is { Kind: ListenerKind.Gateway } && target is null)
            reason = $"no {(decision.Listener.Tls ? "tls" : "tcp")} rule of a VirtualService bound to {string.Join(", ", decision.Listener.Gateways)} matches port {decision.Listener.Address.Port}"
                     + (!decision.Listener.Tls ? "" : sni is not null ? $" and SNI '{sni}'" : sniAsked ? " and no SNI was given" : " and the SNI") + ": the connection is closed" + NoRouteFlag;
        // A gateway listener that routed nothing still names the gateways it serves.
        var gateway = decision.Gateway ?? (decision.Listener is { Kind: ListenerKind.Gateway } l ? string.Join(", ", l.Gateways) : null);
        return new Explanation(ResultName(decision.Result), decision.Listener?.Address.ToString(), gateway,
            target?.VirtualService, target?.Rule, destinations, reason, decision.Client);
    }

    public string ToText()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"result:          {Result}");
        sb.AppendLine($"listener:        {Listener ?? "-"}");
        if (Gateway is not null) sb.AppendLine($"gateway:         {Gateway}");
        sb.AppendLine($"client:          {ClientIdentity.Text(Client.Name, Client.Namespace, Client.Labels)}");
        sb.AppendLine($"virtualService:  {VirtualService ?? "-"}{(Rule is { } r ? $" rule {r}" : "")}");
        foreach (var d in Destinations)
        {
            sb.AppendLine($"destination:     {d.Cluster} weight {d.Weight}");
            sb.AppendLine($"  endpoints:     {(d.Endpoints.Count == 0 ? "none" : string.Join(", ", d.Endpoints))}{(d.Status.Length > 0 ? $" ({d.Status})" : "")}");
        }
        sb.Append($"reason:          {Reason}");
        return sb.ToString();
    }
}
