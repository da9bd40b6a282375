using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Akka.IO;
using Akka.Streams.Dsl;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Actors.Routing;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// TLS origination's failures that are not the endpoint's: an unreadable client certificate is a configuration error,
/// and the connect timeout is one deadline for connect and handshake. Addresses: 127.140.1.x.
/// </summary>
public sealed class TlsOriginationTests
{
    private static UpstreamTls Mutual(string certificate, string key) =>
        new("MUTUAL", null, certificate, key, null, AkkaL4.Messages.Model.Seq<string>.Empty, InsecureSkipVerify: true) { Rules = "data/db-tls" };

    [Fact]
    public async Task A_missing_client_certificate_fails_the_connection_as_a_configuration_error_not_an_endpoint_failure()
    {
        var closed = false;
        var plain = new TcpConnection(IPEndPoint.Parse("127.140.1.1:1"), IPEndPoint.Parse("127.140.1.2:2"),
            () => throw new InvalidOperationException("not joined"), () => closed = true, (_, _) => Task.FromResult(ByteString.Empty));
        var missing = Path.Combine(Path.GetTempPath(), $"akkal4-missing-{Guid.NewGuid():N}.pem");
        var e = await Assert.ThrowsAsync<UpstreamTlsConfigurationException>(() =>
            TlsOrigination.WrapAsync(plain, Mutual(missing, missing), "db.example.com", null, null!, TimeSpan.FromSeconds(10), Stopwatch.GetTimestamp(), default));
        Assert.Contains("DestinationRule data/db-tls tls.clientCertificate " + missing, e.Message);
        Assert.True(closed, "the connection is closed");
        Assert.True(LocalFailure.Is(e), "not counted against the endpoint");
        Assert.False(LocalFailure.Is(new SocketException((int)SocketError.ConnectionRefused)), "a refused connect is the endpoint's");
    }

    [Fact]
    public async Task The_handshake_gets_what_is_left_of_the_connect_timeout_not_a_second_one()
    {
        // An upstream that accepts and never answers the ClientHello.
        using var silent = new TcpListener(IPEndPoint.Parse("127.140.1.3:0"));
        silent.Start();
        using var system = Akka.Actor.ActorSystem.Create("tls-timeout");
        var plain = await new SocketTransport(system.Scheduler).ConnectAsync(silent.LocalEndpoint, new ConnectOptions(TimeSpan.FromSeconds(5), null), default);
        using var accepted = await silent.AcceptTcpClientAsync();
        var timeout = TimeSpan.FromSeconds(60);
        // The connect took all but half a second of the minute.
        var dialStarted = Stopwatch.GetTimestamp() - (long)((timeout.TotalSeconds - 0.5) * Stopwatch.Frequency);
        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<TimeoutException>(() => TlsOrigination.WrapAsync(plain,
            new UpstreamTls("SIMPLE", null, null, null, null, AkkaL4.Messages.Model.Seq<string>.Empty, InsecureSkipVerify: true), "db.example.com", null, null!, timeout, dialStarted, default));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the handshake waited {clock.Elapsed} of a connect timeout already nearly spent");
        Assert.Contains("timed out after 00:01:00", e.Message);
    }
}
