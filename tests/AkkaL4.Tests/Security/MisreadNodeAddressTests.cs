using Akka.Configuration;
using AkkaL4.Actors;
using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Security;

/// <summary>
/// sec18, a node's own addresses: remoting's bind and public host and the seeds it dials, given in settings, are refused at
/// start when a person reads them as one IP and the parser as another ('127.188.3.010' would bind 127.188.3.8), naming the
/// setting, the address it would use and what to write. Before, the node started on the address the parser read.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class MisreadNodeAddressTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(188);

    private static string Refusal(Func<RouterNode> start)
    {
        // On the old code the node started (stopped again here, the assertion failing).
        var refused = Assert.Throws<ConfigurationException>(() => start().DisposeAsync().AsTask().Wait());
        return refused.Message;
    }

    [Fact]
    public void Remoting_on_a_misread_address_is_refused_at_start()
    {
        var message = Refusal(() => SecurityKit.StartNode("misread-remoting", "127.188.3.010", null));
        Assert.StartsWith("akka.remote.dot-netty.tcp.hostname (--remoting, --public-host): '127.188.3.010' reads as 127.188.3.8", message);
        Assert.EndsWith("write 127.188.3.8, or 127.188.3.10 if the zeros are padding", message);

        var publicHost = Refusal(() => RouterNode.Start(new RouterNodeOptions
        {
            Name = "misread-public-host",
            Overrides = $"akka.loglevel = WARNING\nakka.stdout-loglevel = OFF\nakka.remote.dot-netty.tcp {{ hostname = \"{Block.Host(3, 1)}\", port = 0, public-hostname = \"0x7fbc0301\" }}",
        }));
        Assert.Contains("akka.remote.dot-netty.tcp.public-hostname", publicHost);
        Assert.Contains("the node would tell other nodes to dial 127.188.3.1", publicHost);
    }

    [Fact]
    public void A_misread_seed_is_refused_at_start()
    {
        var message = Refusal(() => SecurityKit.StartNode("misread-seed", Block.Host(3, 2), null, "akka.tcp://akkal4@127.188.3.012:4053"));
        Assert.StartsWith("seed akka.tcp://akkal4@127.188.3.012:4053 (--seed, AKKAL4_SEEDS, akka.cluster.seed-nodes): '127.188.3.012' reads as 127.188.3.10", message);
        Assert.Contains("the node would dial 127.188.3.10", message);
    }
}

/// <summary>
/// sec18, the real <c>akkal4</c>: <c>run --admin</c> and <c>--remoting</c> on misread addresses exit 2 (before, the node ran
/// on the address the parser read: the admin API on 127.188.4.8), as do <c>--public-host</c>, <c>--seed</c>, <c>echo --listen</c>
/// and <c>explain -s/-d</c>.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", TestCategories.EndToEnd)]
public sealed class MisreadAddressCliTests : IDisposable
{
    private static readonly AddressBlock Block = AddressBlocks.Of(188);
    private readonly string _directory = ControlPlaneKit.TempDirectory();

    public void Dispose() => ControlPlaneKit.DeleteDirectory(_directory);

    private static async Task<string> UsageError(params string[] args)
    {
        // Refused before anything starts; on the old code the node ran (killed at the timeout, a failure).
        var run = await Akkal4Process.RunAsync(args, timeout: TimeSpan.FromSeconds(30));
        Assert.True(run.ExitCode == 2, run.ToString());
        return run.Stderr;
    }

    [Fact]
    public async Task Run_refuses_misread_addresses_for_its_admin_api_remoting_public_host_and_seeds()
    {
        var admin = await UsageError("run", "--admin", "127.188.4.010:0", "--remoting", $"{Block.Host(4, 1)}:0", "--data", _directory);
        Assert.Contains("akkal4: --admin '127.188.4.010' reads as 127.188.4.8 to the node's parser (a leading zero makes a number octal, as inet_aton "
                        + "reads it): the node would listen on 127.188.4.8, not the address a person reads; write 127.188.4.8, or 127.188.4.10 if the zeros are padding", admin);

        var remoting = await UsageError("run", "--admin", $"{Block.Host(4, 1)}:0", "--remoting", "0x7fbc0401:0", "--data", _directory);
        Assert.Contains("akkal4: --remoting '0x7fbc0401' reads as 127.188.4.1", remoting);

        var publicHost = await UsageError("run", "--admin", $"{Block.Host(4, 1)}:0", "--remoting", $"{Block.Host(4, 1)}:0", "--public-host", "127.188.4.01", "--data", _directory);
        Assert.Contains("akka.remote.dot-netty.tcp.public-hostname (--remoting, --public-host): '127.188.4.01' reads as 127.188.4.1", publicHost);

        var seed = await UsageError("run", "--admin", $"{Block.Host(4, 1)}:0", "--remoting", $"{Block.Host(4, 1)}:0", "--seed", "akka.tcp://akkal4@127.188.4.02:4053", "--data", _directory);
        Assert.Contains("seed akka.tcp://akkal4@127.188.4.02:4053 (--seed, AKKAL4_SEEDS, akka.cluster.seed-nodes): '127.188.4.02' reads as 127.188.4.2", seed);
    }

    [Fact]
    public async Task Echo_and_explain_refuse_misread_addresses()
    {
        var echo = await UsageError("echo", "--listen", "127.188.4.010:9000");
        Assert.Contains("akkal4: --listen '127.188.4.010' reads as 127.188.4.8", echo);

        var manifest = Path.Combine(_directory, "world.yaml");
        await File.WriteAllTextAsync(manifest, Manifests.Join(ControlPlaneKit.Service("web", "default", Block.Host(4, 10)), ControlPlaneKit.Workload("web-1", "default", Block.Host(4, 16), "web")));
        var explain = await UsageError("explain", "-f", manifest, "-s", Block.Host(4, 100), "-d", "127.188.4.010:19000");
        Assert.Contains("akkal4: '127.188.4.010' reads as 127.188.4.8", explain);
    }
}
