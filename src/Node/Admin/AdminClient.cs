using System.Net;

namespace AkkaL4.Node.Admin;

/// <summary>
/// Who a client of the admin API is, for every per-client limit and log (failed token attempts, connections held,
/// refusals): an IPv4 address (also when mapped into IPv6), or an IPv6 /64, what one host or home network usually
/// gets, so the many addresses of one network are one client and cannot each take a share of their own.
/// </summary>
internal static class AdminClient
{
    public static IPAddress Of(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) return address.MapToIPv4();
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6) return address;
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes); // the scope id goes too
    }

    /// <summary>A client as the log names it: the IPv4 address, or "2001:db8::/64".</summary>
    public static string Show(IPAddress client) =>
        client.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"{client}/64" : client.ToString();
}
