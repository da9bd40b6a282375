using System.Net;

namespace AkkaL4.Actors;

/// <summary>
/// Who a client is (of the admin API, of the remoting port: RemotingGate), for every per-client limit and log.
/// <see cref="Host"/> is one address (an IPv4 address, also when mapped into IPv6; an IPv6 address); <see cref="Of"/> its
/// network, the same for IPv4, an IPv6 /64 (failed token attempts, refusals, unauthenticated remoting connections): the
/// many addresses of one network are one client and cannot each take a share of their own. A cloud subnet (AWS, Azure) is one /64 shared by many hosts, so the connection share is kept per host,
/// with a larger cap per /64 (the admin server's MaxConnectionsPerNetwork).
/// </summary>
public static class ClientNetwork
{
    /// <summary>The host: the IPv4 address (unmapped), or the IPv6 address without its scope id.</summary>
    public static IPAddress Host(IPAddress address) =>
        address.IsIPv4MappedToIPv6 ? address.MapToIPv4()
        : address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? new IPAddress(address.GetAddressBytes())
        : address;

    /// <summary>The host's network: the IPv4 address, or the IPv6 /64.</summary>
    public static IPAddress Of(IPAddress address)
    {
        var host = Host(address);
        if (host.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6) return host;
        var bytes = host.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes);
    }

    /// <summary>
    /// The network a client's limits also count it in: <see cref="Of"/>, except that all of loopback (127.0.0.0/8, ::1,
    /// mapped or not) is one, <see cref="IPAddress.Loopback"/>: any local process can send from millions of 127.x addresses.
    /// </summary>
    public static IPAddress Network(IPAddress address)
    {
        var host = Host(address);
        return IPAddress.IsLoopback(host) ? IPAddress.Loopback : Of(host);
    }

    /// <summary>A client (<see cref="Of"/>) as the log names it: the IPv4 address, or "2001:db8::/64".</summary>
    public static string Show(IPAddress client) =>
        client.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"{client}/64" : client.ToString();
}
