using System.Text.Json.Serialization;

namespace AkkaL4.Actors.Upstreams.Health;

/// <summary>
/// One endpoint's health as <c>/v1/status</c> and <c>explain</c> show it: plain, immutable, serialisable.
/// <see cref="Status"/>: <c>unhealthy</c> (failing its active checks) before <c>ejected</c> (by outlier detection) before <c>healthy</c>.
/// </summary>
public sealed record EndpointHealthSnapshot(
    [property: JsonPropertyName("endpoint")] string Endpoint,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("ejected")] bool Ejected,
    [property: JsonPropertyName("activeConnections")] int Active,
    [property: JsonPropertyName("consecutiveFailures")] int ConsecutiveFailures,
    [property: JsonPropertyName("timesEjected")] int TimesEjected,
    [property: JsonPropertyName("ejectedUntil")] DateTime? EjectedUntil,
    [property: JsonPropertyName("check")] string? Check,
    [property: JsonPropertyName("lastError")] string? LastError,
    [property: JsonPropertyName("lastErrorAt")] DateTime? LastErrorAt)
{
    public static EndpointHealthSnapshot Of(string endpoint, EndpointHealthState s, int active, bool checks) => new(
        endpoint, s.Status, s.Ejected, active, s.ConsecutiveFailures, s.TimesEjected, s.Ejected ? s.EjectedUntil : null,
        checks ? s.Check.ToString().ToLowerInvariant() : null, s.LastError, s.LastErrorAt);
}

/// <summary>One upstream cluster's endpoints and whether it is in panic (minHealthPercent: every endpoint gets traffic).</summary>
public sealed record ClusterHealthSnapshot(
    [property: JsonPropertyName("cluster")] string Cluster,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("panic")] bool Panic,
    [property: JsonPropertyName("outlierDetection")] string? OutlierDetection,
    [property: JsonPropertyName("healthCheck")] string? HealthCheck,
    [property: JsonPropertyName("endpoints")] IReadOnlyList<EndpointHealthSnapshot> Endpoints);
