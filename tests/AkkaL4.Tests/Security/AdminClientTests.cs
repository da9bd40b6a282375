using AkkaL4.Actors;
using System.Net;
using Akka.Event;
using AkkaL4.Node.Admin;
using Microsoft.AspNetCore.Connections;

namespace AkkaL4.Tests.Security;

/// <summary>
/// Every per-client limit and log of the admin API takes one client key (an IPv4 address, an IPv6 /64), and each is
/// bounded however many addresses a client has: the connection share and the refusal log, without sockets (loopback
/// has one IPv6 address).
/// </summary>
[Trait("Category", "Unit")]
public sealed class ClientNetworkTests
{
    private sealed class Recording() : LoggingAdapterBase(DefaultLogMessageFormatter.Instance)
    {
        public List<string> Warnings { get; } = [];
        public override bool IsDebugEnabled => false;
        public override bool IsInfoEnabled => false;
        public override bool IsWarningEnabled => true;
        public override bool IsErrorEnabled => true;

        protected override void NotifyLog(LogLevel level, object message, Exception? cause)
        {
            if (level == LogLevel.WarningLevel) lock (Warnings) Warnings.Add(message.ToString() ?? "");
        }
    }

    /// <summary>Counts the connections let through and holds each open until released.</summary>
    private sealed class Gate
    {
        private int _served;
        public int Served => Volatile.Read(ref _served);
        public TaskCompletionSource Release { get; } = new();

        public ConnectionDelegate Next => async _ =>
        {
            Interlocked.Increment(ref _served);
            await Release.Task;
        };
    }

    private static DefaultConnectionContext From(string address) => new() { RemoteEndPoint = new IPEndPoint(IPAddress.Parse(address), 40000) };

    [Fact]
    public void The_client_key_is_the_IPv4_address_or_the_IPv6_64_and_the_host_the_address()
    {
        Assert.Equal(IPAddress.Parse("192.0.2.7"), ClientNetwork.Host(IPAddress.Parse("::ffff:192.0.2.7")));
        Assert.Equal(IPAddress.Parse("2001:db8:1:2::9"), ClientNetwork.Host(IPAddress.Parse("2001:db8:1:2::9%3")));
        Assert.Equal(IPAddress.Parse("192.0.2.7"), ClientNetwork.Of(IPAddress.Parse("::ffff:192.0.2.7")));
        Assert.Equal(IPAddress.Parse("2001:db8:1:2::"), ClientNetwork.Of(IPAddress.Parse("2001:db8:1:2:aaaa:bbbb:cccc:dddd%3")));
        Assert.Equal("2001:db8:1:2::/64", ClientNetwork.Show(ClientNetwork.Of(IPAddress.Parse("2001:db8:1:2::9"))));
        Assert.Equal("192.0.2.7", ClientNetwork.Show(ClientNetwork.Of(IPAddress.Parse("192.0.2.7"))));
    }

    [Fact]
    public async Task One_address_holds_its_share_and_one_IPv6_64_a_larger_one_so_a_host_cannot_lock_out_its_subnet()
    {
        var log = new Recording();
        var connections = new AdminServer.PerClientConnections(log);
        var gate = new Gate();
        var next = gate.Next;
        // One host holds its whole share; its next connection is refused.
        var held = Enumerable.Range(0, AdminServer.MaxConnectionsPerClient).Select(_ => connections.ServeAsync(From("2001:db8::1"), next)).ToList();
        Assert.Equal(AdminServer.MaxConnectionsPerClient, gate.Served);
        await connections.ServeAsync(From("2001:db8::1"), next);
        Assert.Equal(AdminServer.MaxConnectionsPerClient, gate.Served);
        Assert.Contains(log.Warnings, w => w.Contains($"refused a connection from 2001:db8::1: it holds {AdminServer.MaxConnectionsPerClient} already"));

        // Its neighbour in the same /64 (a cloud subnet) is still served, and so are more, up to the /64's cap.
        held.AddRange(Enumerable.Range(2, AdminServer.MaxConnectionsPerNetwork - AdminServer.MaxConnectionsPerClient)
            .Select(i => connections.ServeAsync(From($"2001:db8::{i:x}"), next)));
        Assert.Equal(AdminServer.MaxConnectionsPerNetwork, gate.Served);
        // The /64's next connection is refused, from a fresh address too; another /64 and IPv4 are not.
        log.Warnings.Clear();
        for (var i = 0; i < 100; i++) await connections.ServeAsync(From("2001:db8::ffff:1"), next);
        Assert.Equal(AdminServer.MaxConnectionsPerNetwork, gate.Served);
        Assert.Contains(log.Warnings, w => w.Contains($"refused a connection from 2001:db8::ffff:1: its network 2001:db8::/64 holds {AdminServer.MaxConnectionsPerNetwork} already"));
        held.Add(connections.ServeAsync(From("2001:db8:0:1::1"), next));
        held.Add(connections.ServeAsync(From("192.0.2.1"), next));
        Assert.Equal(AdminServer.MaxConnectionsPerNetwork + 2, gate.Served);

        gate.Release.SetResult();
        await Task.WhenAll(held);
        // The shares are given back: the host and the /64 are served again.
        await connections.ServeAsync(From("2001:db8::1"), next);
        await connections.ServeAsync(From("2001:db8::ffff:2"), next);
        Assert.Equal(AdminServer.MaxConnectionsPerNetwork + 4, gate.Served);
    }

    /// <summary>Eight clients of other hosts (192.0.2.1-8), each its whole share: every slot for other hosts, held until the gate opens.</summary>
    private static List<Task> HoldEveryOtherHostsSlot(AdminServer.PerClientConnections connections, Func<string, DefaultConnectionContext> to,
        ConnectionDelegate next) =>
        Enumerable.Range(1, AdminServer.MaxConnections / AdminServer.MaxConnectionsPerClient)
            .SelectMany(c => Enumerable.Range(0, AdminServer.MaxConnectionsPerClient).Select(_ => connections.ServeAsync(to($"192.0.2.{c}"), next)))
            .ToList();

    [Fact]
    public async Task Other_hosts_holding_every_connection_leave_the_reserve_to_probes_from_the_nodes_own_host()
    {
        var log = new Recording();
        var connections = new AdminServer.PerClientConnections(log);
        var gate = new Gate();
        var next = gate.Next;
        var api = new IPEndPoint(IPAddress.Parse("198.51.100.5"), 15000);
        DefaultConnectionContext To(string from) => new() { RemoteEndPoint = new IPEndPoint(IPAddress.Parse(from), 40000), LocalEndPoint = api };

        var held = HoldEveryOtherHostsSlot(connections, To, next);
        Assert.Equal(AdminServer.MaxConnections, gate.Served);
        var ninth = To("192.0.2.200");
        await connections.ServeAsync(ninth, next);
        Assert.Equal(AdminServer.MaxConnections, gate.Served);
        Assert.Contains(log.Warnings, w => w.Contains($"refused a connection from 192.0.2.200: other hosts hold {AdminServer.MaxConnections}"));

        // The host's own probes still get in: the HEALTHCHECK (from the API's own address) and loopback.
        held.Add(connections.ServeAsync(To("198.51.100.5"), next));
        held.Add(connections.ServeAsync(To("127.0.0.1"), next));
        Assert.Equal(AdminServer.MaxConnections + 2, gate.Served);

        gate.Release.SetResult();
        await Task.WhenAll(held);
        await connections.ServeAsync(To("192.0.2.200"), next);
        Assert.Equal(AdminServer.MaxConnections + 3, gate.Served);
    }

    [Fact]
    public async Task All_of_loopback_is_one_client_so_a_local_user_cannot_take_the_own_address_probes_reserve()
    {
        var log = new Recording();
        var connections = new AdminServer.PerClientConnections(log);
        var gate = new Gate();
        var next = gate.Next;
        var api = new IPEndPoint(IPAddress.Parse("198.51.100.5"), 15000);
        DefaultConnectionContext To(string from) => new() { RemoteEndPoint = new IPEndPoint(IPAddress.Parse(from), 40000), LocalEndPoint = api };

        var held = HoldEveryOtherHostsSlot(connections, To, next);
        Assert.Equal(AdminServer.MaxConnections, gate.Served);

        // One local user sends from many loopback addresses (IPv4, mapped, ::1): one share in all, the rest refused.
        var sources = Enumerable.Range(1, 200).Select(i => $"127.0.{i / 250}.{i % 250 + 1}").Concat(["::ffff:127.175.9.9", "::1"]);
        foreach (var source in sources) held.Add(connections.ServeAsync(To(source), next));
        Assert.Equal(AdminServer.MaxConnections + AdminServer.MaxConnectionsPerClient, gate.Served);
        Assert.Contains(log.Warnings, w => w.Contains($"refused a connection from 127.0.0.1 (loopback): it holds {AdminServer.MaxConnectionsPerClient} already"));

        // The HEALTHCHECK from the API's own address still gets in, within Kestrel's limit (no slot past it is ever taken).
        held.Add(connections.ServeAsync(To("198.51.100.5"), next));
        Assert.Equal(AdminServer.MaxConnections + AdminServer.MaxConnectionsPerClient + 1, gate.Served);
        Assert.True(gate.Served <= AdminServer.MaxConnections + AdminServer.LocalReserve);

        // Loopback's share is given back when its connections close.
        gate.Release.SetResult();
        await Task.WhenAll(held);
        await connections.ServeAsync(To("127.0.0.77"), next);
        Assert.Equal(AdminServer.MaxConnections + AdminServer.MaxConnectionsPerClient + 2, gate.Served);
    }

    [Fact]
    public void The_refusal_log_names_an_IPv6_64_once_and_holds_a_bounded_number_of_clients()
    {
        var log = new Recording();
        using var refusals = new RefusalLog(log, TimeProvider.System);
        // Five addresses of one /64: one client, its first refusal at once, the rest on one line.
        for (var i = 1; i <= 5; i++) refusals.Refused(IPAddress.Parse($"2001:db8::{i}"), "GET /v1/status", "wrong bearer token");
        Assert.Equal(["admin API: refused GET /v1/status from 2001:db8::1: wrong bearer token"], log.Warnings);
        refusals.Flush();
        Assert.Equal("admin API: refused 4 request(s) from 2001:db8::/64 in the last 60s: 4 × wrong bearer token", log.Warnings[1]);
        Assert.Equal(2, log.Warnings.Count);

        // Clients past the bound are counted, not held: an attacker with many addresses costs bounded memory and flush.
        log.Warnings.Clear();
        var clients = RefusalLog.MaxClients + 500;
        for (var i = 0; i < clients; i++)
            for (var j = 0; j < 2; j++)
                refusals.Refused(new IPAddress(BitConverter.GetBytes(0x0A000000 + i).Reverse().ToArray()), "GET /", "no Authorization header");
        Assert.InRange(refusals.Tracked, 1, 2 * RefusalLog.MaxClients);
        refusals.Flush();
        Assert.Equal(RefusalLog.MaxClientLines, log.Warnings.Count(w => w.StartsWith("admin API: refused GET / from 10.", StringComparison.Ordinal)));
        Assert.Contains("admin API: refused 1000 more request(s) in the last 60s from clients past the first 1000 of the interval (not told apart)", log.Warnings);
        var named = log.Warnings.Single(w => w.Contains("more client(s)"));
        Assert.StartsWith($"admin API: refused {2 * RefusalLog.MaxClients - RefusalLog.MaxClientLines} request(s) from {RefusalLog.MaxClients} more client(s)", named);
    }
}
