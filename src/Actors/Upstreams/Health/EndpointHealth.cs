namespace AkkaL4.Actors.Upstreams.Health;

/// <summary>What the active health check last concluded about an endpoint.</summary>
public enum CheckVerdict
{
    /// <summary>No check has answered yet (or the cluster has none): the endpoint takes traffic.</summary>
    Unknown,
    Healthy,
    Unhealthy,
}

/// <summary>
/// One endpoint's health at one moment: outlier ejection, the active check's verdict, and the failures
/// behind them. Immutable; <see cref="EndpointHealth"/> swaps whole values, so any thread may read one.
/// </summary>
public sealed record EndpointHealthState
{
    public static readonly EndpointHealthState Initial = new();

    /// <summary>Connect failures in a row (a successful connect resets it).</summary>
    public int ConsecutiveFailures { get; init; }
    /// <summary>The outlier detector's count toward its threshold: like Envoy's, reset when it fires and when the endpoint returns.</summary>
    public int FailuresCounted { get; init; }
    public bool Ejected { get; init; }
    public DateTime? EjectedAt { get; init; }
    public DateTime? EjectedUntil { get; init; }
    /// <summary>Ejections since the endpoint was first seen.</summary>
    public int TimesEjected { get; init; }
    /// <summary>Envoy's ejection backoff: the multiplier of baseEjectionTime; one less for each clean sweep after a return.</summary>
    public int EjectionMultiplier { get; init; }

    public CheckVerdict Check { get; init; }
    /// <summary>Checks in a row that passed (positive) or failed (negative).</summary>
    public int CheckStreak { get; init; }

    public string? LastError { get; init; }
    public DateTime? LastErrorAt { get; init; }

    /// <summary>Neither ejected nor failing its checks: the balancer may pick it (outside panic).</summary>
    public bool Routable => !Ejected && Check != CheckVerdict.Unhealthy;

    public string Status => Check == CheckVerdict.Unhealthy ? "unhealthy" : Ejected ? "ejected" : "healthy";
}

/// <summary>
/// The health of one endpoint of one upstream cluster. Written only by that cluster's router; read from
/// any thread (the admin API, explain, a picker running on a connection's thread) through <see cref="State"/>,
/// an immutable value swapped atomically.
/// </summary>
public sealed class EndpointHealth(string endpoint)
{
    private EndpointHealthState _state = EndpointHealthState.Initial;

    public string Endpoint { get; } = endpoint;

    public EndpointHealthState State => Volatile.Read(ref _state);

    internal void Set(EndpointHealthState state) => Volatile.Write(ref _state, state);

    public override string ToString() => $"{Endpoint} {State.Status}";
}
