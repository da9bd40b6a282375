using Akka.Configuration;

namespace AkkaL4.Actors.DataPlane;

/// <summary>The <c>akkal4.data-plane</c> section of cluster.hocon.</summary>
public sealed record DataPlaneSettings(int MaxConnectAttempts, int ListenBacklog, TimeSpan BindRetry, TimeSpan BindRetryMax, string Transport)
{
    /// <summary>Overrides <c>akkal4.data-plane.transport</c> (used to run the test suite on each transport).</summary>
    public const string TransportVariable = "AKKAL4_TRANSPORT";

    public static DataPlaneSettings From(Akka.Configuration.Config config)
    {
        var c = config.GetConfig("akkal4.data-plane");
        return new DataPlaneSettings(
            Math.Max(1, c.GetInt("max-connect-attempts", 3)),
            c.GetInt("listen-backlog", 1024),
            c.GetTimeSpan("bind-retry", TimeSpan.FromSeconds(1)),
            c.GetTimeSpan("bind-retry-max", TimeSpan.FromSeconds(30)),
            Environment.GetEnvironmentVariable(TransportVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : c.GetString("transport", DataPlane.Transport.TcpTransports.Sockets));
    }
}
