using System.Text.Json.Serialization;

namespace AkkaL4.Actors.Upstreams.Health;

/// <summary>One endpoint's health as <c>/v1/status</c> and <c>explain</c> show it: plain, immutable, serialisable.</summary>
public sealed record EndpointHealthSnapshot(
    [property: JsonPropertyName("endpoint")] string Endpoint,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("activeConnections")] int Active,
    [property: JsonPropertyName("consecutiveFailures")] int ConsecutiveFailures,
    [property: JsonPropertyName("timesEjected")] int TimesEjected,
    [property: JsonPropertyName("ejectedUntil")] DateTime? EjectedUntil,
    [property: JsonPropertyName("check")] string? Check,
    [property: JsonPropertyName("lastError")] string? LastError,
    [property: JsonPropertyName("lastErrorAt")] DateTime? LastErrorAt)
{
    [JsonIgnore] public bool Ejected => Status == "ejected";

    public static EndpointHealthSnapshot Of(string endpoint, EndpointHealthState s, int active, bool checks) => new(
        endpoint, s.Status, active, s.ConsecutiveFailures, s.TimesEjected, s.Ejected ? s.EjectedUntil : null,
        checks ? s.Check.ToString().ToLowerInvariant() : null, s.LastError, s.LastErrorAt);

    /// <summary><c>10.0.0.1:80 ejected until 12:00:05Z (2 times), 3 failures: connection refused</c>.</summary>
    public string ToText()
    {
        var text = $"{Endpoint} {Status}";
        if (EjectedUntil is { } until) text += $" until {until:HH:mm:ss}Z";
        if (TimesEjected > 0) text += $" (ejected {TimesEjected} time{(TimesEjected == 1 ? "" : "s")})";
        if (Check is { } check && Status != "unhealthy") text += $", check {check}";
        if (ConsecutiveFailures > 0) text += $", {ConsecutiveFailures} failure{(ConsecutiveFailures == 1 ? "" : "s")} in a row";
        if (LastError is { } error && (ConsecutiveFailures > 0 || Status != "healthy")) text += $": {error}";
        return text;
    }
}

/// <summary>One upstream cluster's endpoints and whether it is in panic (minHealthPercent: every endpoint gets traffic).</summary>
public sealed record ClusterHealthSnapshot(
    [property: JsonPropertyName("cluster")] string Cluster,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("panic")] bool Panic,
    [property: JsonPropertyName("outlierDetection")] string? OutlierDetection,
    [property: JsonPropertyName("healthCheck")] string? HealthCheck,
    [property: JsonPropertyName("endpoints")] IReadOnlyList<EndpointHealthSnapshot> Endpoints);
