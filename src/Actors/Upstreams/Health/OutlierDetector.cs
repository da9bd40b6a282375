using AkkaL4.Actors.Routing;

namespace AkkaL4.Actors.Upstreams.Health;

/// <summary>What one connect failure led to.</summary>
public enum OutlierEvent
{
    None,
    /// <summary>The threshold was reached and the endpoint is ejected.</summary>
    Ejected,
    /// <summary>The threshold was reached but maxEjectionPercent forbids another ejection (Envoy's ejections_overflow).</summary>
    Overflow,
}

/// <summary>
/// Outlier detection as Envoy applies Istio's <c>outlierDetection</c> to TCP (outlier_detection_impl.cc):
/// a connect failure or timeout counts as both a 5xx and a gateway error, a successful connect resets the
/// count; reaching the threshold ejects at once when 100 × (ejected + 1) / endpoints ≤ maxEjectionPercent;
/// an ejection lasts baseEjectionTime × the ejection multiplier (one more per ejection, at most 300 s or
/// baseEjectionTime, whichever is longer; one less per clean sweep). Ejected endpoints return only at a sweep
/// (every <c>interval</c>), never because a connection picked them. Time is passed in, so tests drive it.
/// </summary>
public sealed class OutlierDetector(OutlierPolicy? policy)
{
    /// <summary>Envoy's max_ejection_time default (Istio does not set it).</summary>
    public static readonly TimeSpan MaxEjectionTime = TimeSpan.FromSeconds(300);

    public OutlierPolicy? Policy { get; } = policy;

    public void Connected(EndpointHealth endpoint)
    {
        var s = endpoint.State;
        // Most connects succeed: no new state unless a count changes.
        if (ConnectChanges(s)) endpoint.Set(s with { ConsecutiveFailures = 0, FailuresCounted = 0 });
    }

    /// <summary>Whether a successful connect would change this state (connections tell the router only then).</summary>
    public static bool ConnectChanges(EndpointHealthState s) => s.ConsecutiveFailures != 0 || s.FailuresCounted != 0;

    public OutlierEvent Failed(IReadOnlyList<EndpointHealth> endpoints, int index, string error, DateTime now)
    {
        var endpoint = endpoints[index];
        var s = endpoint.State;
        s = s with { ConsecutiveFailures = s.ConsecutiveFailures + 1, FailuresCounted = s.FailuresCounted + 1, LastError = error, LastErrorAt = now };
        var result = OutlierEvent.None;
        // Envoy fires when the count equals the threshold, and only for an endpoint not already ejected;
        // the count then starts again whether the ejection happened or overflowed.
        if (Policy is { EjectAfter: > 0 and var threshold } && s.FailuresCounted == threshold && !s.Ejected)
        {
            s = s with { FailuresCounted = 0 };
            var ejected = 0;
            foreach (var e in endpoints) if (e.State.Ejected) ejected++;
            if (100.0 * (ejected + 1) / endpoints.Count <= Policy.MaxEjectionPercent)
            {
                s = Eject(s, now);
                result = OutlierEvent.Ejected;
            }
            else result = OutlierEvent.Overflow;
        }
        endpoint.Set(s);
        return result;
    }

    private EndpointHealthState Eject(EndpointHealthState s, DateTime now)
    {
        var baseTime = Policy!.BaseEjectionTime;
        var max = baseTime > MaxEjectionTime ? baseTime : MaxEjectionTime;
        var multiplier = s.EjectionMultiplier;
        if (baseTime * multiplier < max + baseTime) multiplier++;
        var duration = baseTime * multiplier < max ? baseTime * multiplier : max;
        return s with
        {
            Ejected = true, EjectedAt = now, EjectedUntil = now + duration,
            TimesEjected = s.TimesEjected + 1, EjectionMultiplier = multiplier,
        };
    }

    /// <summary>Envoy's interval sweep: returns endpoints whose ejection time has passed; the indexes of those that returned.</summary>
    public IReadOnlyList<int> Sweep(IReadOnlyList<EndpointHealth> endpoints, DateTime now)
    {
        List<int>? returned = null;
        for (var i = 0; i < endpoints.Count; i++)
        {
            var s = endpoints[i].State;
            if (!s.Ejected)
            {
                if (s.EjectionMultiplier > 0) endpoints[i].Set(s with { EjectionMultiplier = s.EjectionMultiplier - 1 });
                continue;
            }
            if (s.EjectedUntil > now) continue;
            endpoints[i].Set(Returned(s));
            (returned ??= []).Add(i);
        }
        return returned ?? (IReadOnlyList<int>)[];
    }

    /// <summary>Back in rotation with fresh counts, so a failure or two cannot eject it again at once (as Envoy resets them).</summary>
    public static EndpointHealthState Returned(EndpointHealthState s) =>
        s with { Ejected = false, EjectedUntil = null, ConsecutiveFailures = 0, FailuresCounted = 0 };

    /// <summary>A router starting on a policy without outlier detection lets endpoints ejected under an earlier one return.</summary>
    public void Reconcile(IReadOnlyList<EndpointHealth> endpoints)
    {
        if (Policy is not null) return;
        foreach (var e in endpoints)
            if (e.State.Ejected) e.Set(Returned(e.State));
    }
}

/// <summary>
/// Istio's minHealthPercent (Envoy's healthy panic threshold, 0 unless set): when fewer than that share of a
/// cluster's endpoints is routable, ejections and failed checks are ignored and every endpoint gets traffic.
/// </summary>
public static class PanicPolicy
{
    public static bool InPanic(int routable, int total, OutlierPolicy? policy) =>
        policy is { MinHealthPercent: > 0 } && total > 0 && 100.0 * routable / total < policy.MinHealthPercent;
}
