using System.Net;

namespace AkkaL4.Node.Demo;

/// <summary>One client command of the walkthrough and the answers that count as right.</summary>
internal sealed record Check(string Client, string Source, string Destination, string Via, string[] Expected)
{
    public string Command => $"echo test | nc -N -s {Source} {Destination.Replace(':', ' ')}";
    public IPEndPoint DestinationEndPoint => IPEndPoint.Parse(Destination);
}

internal sealed record WalkthroughCase(int Number, string Title, string File, Check[] Checks);

/// <summary>The user's walkthrough (shared/seed-walkthrough.md) on the loopback plan of examples/seed.</summary>
internal static class Walkthrough
{
    public const string World = "world.yaml";
    private const string Service = "127.0.20.1:19000";
    // Connections to echo-server itself may reach its prod or its gray pod.
    private static readonly string[] EchoServer = ["hello test", "hello-gray test"];
    private static readonly string[] EchoServer2 = ["hello-2 test"];

    public static readonly WalkthroughCase[] Cases =
    [
        new(1, "destinationSubnets: connections to the services' address range go to echo-server-2", "01-destination-subnets.yaml",
            [new("telnet-client", "127.0.30.1", Service, "echo-server", EchoServer2)]),
        new(2, "port: connections dialled on port 19000 go to echo-server-2", "02-port.yaml",
            [new("telnet-client", "127.0.30.1", Service, "echo-server", EchoServer2)]),
        new(3, "sourceLabels: only app=telnet-client goes to echo-server-2", "03-source-labels.yaml",
            [
                new("telnet-client", "127.0.30.1", Service, "echo-server", EchoServer2),
                new("telnet-client-2", "127.0.30.2", Service, "echo-server (no rule matched: the dialled service)", EchoServer),
            ]),
        new(4, "gateways: one VirtualService on both gateways; gateway 2 goes to echo-server-2", "04-gateways.yaml",
            [
                new("telnet-client", "127.0.30.1", "127.0.40.1:19000", "ingressgateway-1", EchoServer),
                new("telnet-client", "127.0.30.1", "127.0.40.2:19000", "ingressgateway-2", EchoServer2),
                new("telnet-client", "127.0.30.1", Service, "the service address: mesh traffic, which a gateway-bound VirtualService does not touch", EchoServer),
            ]),
        new(5, "sourceNamespace: clients in namespace foo go to echo-server-2", "05-source-namespace.yaml",
            [
                new("foo/telnet-client-foo", "127.0.30.3", Service, "echo-server", EchoServer2),
                new("default/telnet-client", "127.0.30.1", Service, "echo-server", EchoServer),
            ]),
        new(6, "weight: 80% to the prod pods, 20% to the gray pod, exactly 4 of every 5", "06-weight.yaml",
            [
                new("telnet-client", "127.0.30.1", Service, "echo-server 1/5", ["hello test"]),
                new("telnet-client", "127.0.30.1", Service, "echo-server 2/5", ["hello test"]),
                new("telnet-client", "127.0.30.1", Service, "echo-server 3/5", ["hello-gray test"]),
                new("telnet-client", "127.0.30.1", Service, "echo-server 4/5", ["hello test"]),
                new("telnet-client", "127.0.30.1", Service, "echo-server 5/5", ["hello test"]),
            ]),
    ];

    /// <summary>The upstream pods: address and prefix.</summary>
    public static readonly (string Address, string Prefix)[] Upstreams =
        [("127.0.10.1:9000", "hello"), ("127.0.10.2:9000", "hello-gray"), ("127.0.10.3:9000", "hello-2")];
}
