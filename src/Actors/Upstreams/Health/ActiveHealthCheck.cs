using System.Net;
using System.Net.Sockets;
using AkkaL4.Actors.Routing;

namespace AkkaL4.Actors.Upstreams.Health;

/// <summary>Checks one endpoint once: null when it answered, else why not.</summary>
public delegate Task<string?> HealthProbe(UpstreamEndpoint endpoint, TimeSpan timeout);

/// <summary>
/// Active health checking's verdicts, as Envoy's TCP checker decides them: the first answer decides at once
/// (an endpoint takes traffic before it, unlike Envoy, which has cluster warming to wait for it); after that,
/// <c>unhealthy</c> failures in a row make a healthy endpoint unhealthy and <c>healthy</c> passes in a row
/// bring it back. A passing check also returns an outlier-ejected endpoint that is not failing its checks
/// (Envoy's successful_active_health_check_uneject_host, on by default).
/// </summary>
public static class ActiveHealthCheck
{
    public static EndpointHealthState Passed(EndpointHealthState s, HealthCheckPolicy policy)
    {
        var streak = s.CheckStreak > 0 ? s.CheckStreak + 1 : 1;
        var verdict = s.Check switch
        {
            CheckVerdict.Unknown => CheckVerdict.Healthy,
            CheckVerdict.Unhealthy when streak >= policy.HealthyThreshold => CheckVerdict.Healthy,
            var v => v,
        };
        s = s with { Check = verdict, CheckStreak = streak };
        return verdict == CheckVerdict.Healthy && s.Ejected ? OutlierDetector.Returned(s) : s;
    }

    public static EndpointHealthState Failed(EndpointHealthState s, HealthCheckPolicy policy, string error, DateTime now)
    {
        var streak = s.CheckStreak < 0 ? s.CheckStreak - 1 : -1;
        var verdict = s.Check switch
        {
            CheckVerdict.Unknown => CheckVerdict.Unhealthy,
            CheckVerdict.Healthy when -streak >= policy.UnhealthyThreshold => CheckVerdict.Unhealthy,
            var v => v,
        };
        return s with { Check = verdict, CheckStreak = streak, LastError = "health check: " + error, LastErrorAt = now };
    }

    /// <summary>A router starting on a policy without checks forgets verdicts reached under an earlier one.</summary>
    public static void Reconcile(IReadOnlyList<EndpointHealth> endpoints, HealthCheckPolicy? policy)
    {
        if (policy is not null) return;
        foreach (var e in endpoints)
            if (e.State.Check != CheckVerdict.Unknown) e.Set(e.State with { Check = CheckVerdict.Unknown, CheckStreak = 0 });
    }

    /// <summary>The TCP check: a connect that succeeds within the timeout, then a close.</summary>
    public static async Task<string?> TcpConnect(UpstreamEndpoint endpoint, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (IPAddress.TryParse(endpoint.Address, out var ip)) await socket.ConnectAsync(new IPEndPoint(ip, endpoint.Port), deadline.Token);
            else await socket.ConnectAsync(endpoint.Address, endpoint.Port, deadline.Token);
            return null;
        }
        catch (OperationCanceledException)
        {
            return $"no answer within {timeout.TotalMilliseconds:0}ms";
        }
        catch (SocketException e)
        {
            return e.Message;
        }
    }
}
