using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using AkkaL4.Actors;
using AkkaL4.Node.Cli;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.Security;

/// <summary>Certificates and router nodes on the 127.30.x.x block for the security tests.</summary>
internal static class SecurityKit
{
    public const string Password = "test-password";
    private const string Quiet = "akka.loglevel = ERROR\nakka.stdout-loglevel = ERROR";

    /// <summary>A cluster CA of its own (as `akkal4 cert create` makes one).</summary>
    public static X509Certificate2 NewCa(string name) => CertCommand.Ca(name, 1);

    /// <summary>A node certificate signed by <paramref name="ca"/>, written as PKCS#12 to a temporary file and loaded as a node would.</summary>
    public static RemotingTls NodeTls(X509Certificate2 ca, string name) =>
        LoadWritten(CertCommand.NodeCertificate(ca, name, 1), name);

    /// <summary>The CA's own certificate and key, used directly as a node's certificate (the one-shared-certificate cluster).</summary>
    public static RemotingTls SharedTls(X509Certificate2 ca) => LoadWritten([ca], "shared");

    private static RemotingTls LoadWritten(X509Certificate2Collection certificates, string name)
    {
        var path = Path.Combine(Path.GetTempPath(), $"akkal4-{name}-{Guid.NewGuid():N}.p12");
        File.WriteAllBytes(path, certificates.Export(X509ContentType.Pkcs12, Password)!);
        try { return RemotingTls.Load(path, Password); }
        finally { File.Delete(path); }
    }

    public static RouterNode StartNode(string name, string ip, RemotingTls? tls, params string[] seeds) => RouterNode.Start(new RouterNodeOptions
    {
        Name = name,
        Seeds = seeds,
        Tls = tls,
        Overrides = $"{Quiet}\nakka.remote.dot-netty.tcp {{ hostname = \"{ip}\", port = 0 }}",
    });

    public static IReadOnlyList<string> UpMembers(RouterNode node) =>
        Cluster.Get(node.ClusterSystem).State.Members.Where(m => m.Status == MemberStatus.Up).Select(m => m.Address.ToString()).Order().ToList();

    public static Task AllUpAsync(RouterNode node, int count) =>
        EventuallyAsync(() => Task.FromResult(UpMembers(node).Count == count && Cluster.Get(node.ClusterSystem).State.Unreachable.Count == 0),
            () => $"{count} members up and none unreachable (seen: {string.Join(", ", UpMembers(node))}; unreachable: {Cluster.Get(node.ClusterSystem).State.Unreachable.Count})",
            TimeSpan.FromSeconds(45));

    /// <summary>Port of a node's cluster remoting.</summary>
    public static int RemotingPort(RouterNode node) => Cluster.Get(node.ClusterSystem).SelfAddress.Port!.Value;

    /// <summary>The node's log warnings from now on, as text.</summary>
    public static ConcurrentQueue<string> CollectWarnings(RouterNode node) => Collect<Warning>(node);

    /// <summary>The node's Error lines, as they are logged (a test asserts a client cannot make any).</summary>
    public static ConcurrentQueue<string> CollectErrors(RouterNode node) => Collect<Error>(node);

    private static ConcurrentQueue<string> Collect<T>(RouterNode node) where T : LogEvent
    {
        var lines = new ConcurrentQueue<string>();
        var collector = node.System.ActorOf(Props.Create(() => new LogCollector(lines)));
        node.System.EventStream.Subscribe(collector, typeof(T));
        return lines;
    }

    private sealed class LogCollector : ReceiveActor
    {
        public LogCollector(ConcurrentQueue<string> lines) => Receive<LogEvent>(e => lines.Enqueue(e.Message?.ToString() ?? ""));
    }

    /// <summary>An HTTP client whose connections come from <paramref name="source"/> (a client address of the test's own).</summary>
    public static HttpClient HttpFrom(string source, string baseUrl, HttpMessageHandler? inner = null) => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
        ConnectCallback = async (context, cancel) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancel);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
            return new NetworkStream(socket, ownsSocket: true);
        },
    }) { BaseAddress = new Uri(baseUrl), Timeout = Patience };
}

/// <summary>A class fixture: one node on <paramref name="ip"/> whose log warnings are collected.</summary>
public abstract class WarningsWorld(string name, string ip) : IAsyncLifetime
{
    public RouterNode Node { get; private set; } = null!;
    public ConcurrentQueue<string> Warnings { get; private set; } = new();
    public ConcurrentQueue<string> Errors { get; private set; } = new();

    public Task InitializeAsync()
    {
        Node = SecurityKit.StartNode(name, ip, null);
        Warnings = SecurityKit.CollectWarnings(Node);
        Errors = SecurityKit.CollectErrors(Node);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await Node.DisposeAsync();
}
