using System.Net;
using Akka.Actor;
using System.Net.Sockets;
using AkkaL4.Actors;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Model;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Queries;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// The last-known-good copy on disk: it round-trips, a damaged file is ignored with a reason, and a
/// node restarted on the same data directory routes by it from the start (addresses 127.3.1.x).
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class LastKnownGoodTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 3, 1, 10, 0, 0, TimeSpan.Zero);

    private readonly string _directory = TempDirectory();

    public void Dispose() => DeleteDirectory(_directory);

    private static ConfigContent Content(params string[] documents)
    {
        var store = new ConfigStore();
        Assert.IsType<ConfigAccepted>(store.Apply(Decode(documents), Now));
        Assert.IsType<ConfigAccepted>(store.Apply(Decode(Route("web", "lkg", "web")), Now.AddMinutes(1)));
        return store.Read(null, null);
    }

    [Fact]
    public void What_is_saved_loads_back_equal_with_its_revision()
    {
        var saved = Content(Service("web", "lkg", "127.3.1.1"), Workload("web-1", "lkg", "127.3.1.10", "web"), Rule("web", "lkg", "web", "v1"));
        var lkg = new LastKnownGood(_directory);

        lkg.Save(saved);
        var loaded = lkg.Load(out var problem);

        Assert.Null(problem);
        Assert.NotNull(loaded);
        Assert.Equal(2, loaded.Revision);
        Assert.Equal(saved.Resources, loaded.Resources);
        Assert.Contains(loaded.Resources, r => r.Metadata.ResourceVersion == "2");
        Assert.Equal(Path.Combine(_directory, "last-known-good.yaml"), lkg.Path);
        Assert.StartsWith("# akkal4 last-known-good revision 2\n", File.ReadAllText(lkg.Path));
        Assert.Equal(["last-known-good.yaml"], Directory.EnumerateFiles(_directory).Select(Path.GetFileName));
    }

    [Fact]
    public void A_later_save_replaces_the_earlier_one_and_creates_the_directory()
    {
        var nested = Path.Combine(_directory, "a", "b");
        var lkg = new LastKnownGood(nested);
        lkg.Save(Content(Service("web", "lkg", "127.3.1.1")));

        lkg.Save(new ConfigContent(7, Decode(Workload("web-9", "lkg", "127.3.1.19", "web"))));
        var loaded = new LastKnownGood(nested).Load(out var problem);

        Assert.Null(problem);
        Assert.Equal(7, loaded!.Revision);
        Assert.Equal("WorkloadEntry/lkg/web-9", Assert.Single(loaded.Resources).Key.ToString());
    }

    [Fact]
    public void An_empty_configuration_round_trips()
    {
        var lkg = new LastKnownGood(_directory);

        lkg.Save(new ConfigContent(3, []));
        var loaded = lkg.Load(out var problem);

        Assert.Null(problem);
        Assert.Equal(3, loaded!.Revision);
        Assert.Empty(loaded.Resources);
    }

    [Fact]
    public void A_configuration_over_the_admin_APIs_limits_loads_back()
    {
        // Writes are limited one request at a time (4 MiB, 10,000 documents); the configuration in force is the sum of
        // many, so the copy on disk may be over both and must still load when the node restarts alone.
        var services = Enumerable.Range(0, 10_050)
            .Select(i => Decode(Service($"s{i}", "lkg", $"127.3.{i / 250 + 2}.{i % 250 + 1}"))[0]).ToList();
        var saved = new ConfigContent(9, services);
        var lkg = new LastKnownGood(_directory);
        lkg.Save(saved);

        var loaded = lkg.Load(out var problem);

        Assert.Null(problem);
        Assert.Equal(9, loaded!.Revision);
        Assert.Equal(saved.Resources, loaded.Resources);
    }

    [Fact]
    public void Nothing_saved_loads_as_null_without_a_problem()
    {
        var loaded = new LastKnownGood(Path.Combine(_directory, "missing")).Load(out var problem);

        Assert.Null(loaded);
        Assert.Null(problem);
    }

    [Theory]
    [InlineData("no header", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {clusterIP: 127.3.1.1, ports: [{port: 1}]}\n")]
    [InlineData("a header without a number", "# akkal4 last-known-good revision seven\n")]
    [InlineData("binary garbage", "\u0001\u0002\u0003 not yaml at all {{{\n")]
    [InlineData("an empty file", "")]
    public void A_file_without_a_revision_header_is_ignored_with_a_problem(string what, string text)
    {
        var lkg = new LastKnownGood(_directory);
        File.WriteAllText(lkg.Path, text);

        var loaded = lkg.Load(out var problem);

        Assert.True(loaded is null, what);
        Assert.NotNull(problem);
        Assert.Contains(lkg.Path, problem);
        Assert.Contains("revision header", problem);
    }

    [Theory]
    [InlineData("an invalid resource", "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: lkg}\nspec: {clusterIP: not-an-ip, ports: [{port: 1}]}\n")]
    [InlineData("a truncated document", "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: lkg\n")]
    [InlineData("an unknown kind", "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n")]
    public void A_file_that_no_longer_reads_cleanly_is_ignored_with_a_problem(string what, string body)
    {
        var lkg = new LastKnownGood(_directory);
        File.WriteAllText(lkg.Path, "# akkal4 last-known-good revision 5\n" + body);

        var loaded = lkg.Load(out var problem);

        Assert.True(loaded is null, what);
        Assert.NotNull(problem);
        Assert.Contains(lkg.Path, problem);
        Assert.Contains("does not validate", problem);
    }

    [Fact]
    public void Format_and_parse_are_the_replicated_form_of_the_same_text()
    {
        var content = Content(Service("web", "lkg", "127.3.1.1"), Workload("web-1", "lkg", "127.3.1.10", "web"));
        var lkg = new LastKnownGood(_directory);
        lkg.Save(content);

        var text = LastKnownGood.Format(content);
        var parsed = LastKnownGood.Parse(text, "replicated", out var problem);

        Assert.Equal(File.ReadAllText(lkg.Path), text);
        Assert.Null(problem);
        Assert.Equal(content.Revision, parsed!.Revision);
        Assert.Equal(content.Resources, parsed.Resources);
        Assert.Null(LastKnownGood.Parse("kind: [", "replicated", out problem));
        Assert.StartsWith("replicated ", problem);
    }

    [Fact]
    public async Task A_node_restarted_on_the_same_data_directory_serves_the_saved_configuration()
    {
        IReadOnlyList<string> listenersBefore;
        ConfigContent configBefore;
        await using (var first = await StartNodeAsync("lkg-first", _directory))
        {
            Assert.Equal(0, first.Routes.Current.Revision);
            await ApplyAsync(first, Service("web", "lkg", "127.3.1.1"), Workload("web-1", "lkg", "127.3.1.10", "web"));
            var second = await ApplyAsync(first, Service("api", "lkg", "127.3.1.2", 19001), Rule("web", "lkg", "web", "v1"));
            Assert.Equal(2, second.Revision);
            listenersBefore = (await BoundAsync(first)).Select(l => l.Address).ToList();
            configBefore = await ReadAsync(first);
            await SavedAsync(_directory, 2);
        }

        await using var restarted = RouterNode.Start(new RouterNodeOptions
        {
            Name = $"lkg-restarted-{Guid.NewGuid():N}",
            DataDirectory = _directory,
            Overrides = "akka.loglevel = ERROR",
        });

        // In force from the start, before the cluster has a config writer or anyone writes a configuration.
        Assert.Equal(2, restarted.Routes.Current.Revision);
        Assert.Equal(configBefore.Resources, restarted.Applied!.Resources);
        var listenersAfter = await BoundAsync(restarted);
        Assert.Equal(["127.3.1.1:19000", "127.3.1.2:19001"], listenersBefore.Order(StringComparer.Ordinal));
        Assert.Equal(listenersBefore, listenersAfter.Select(l => l.Address).ToList());
        using (var client = new TcpClient(new IPEndPoint(IPAddress.Parse("127.3.1.50"), 0)))
        {
            using var cts = new CancellationTokenSource(Patience);
            await client.ConnectAsync(new IPEndPoint(IPAddress.Parse("127.3.1.1"), 19000), cts.Token);
        }

        // The new cluster's writer starts from the node's configuration: same revision, same resources.
        ConfigContent? configAfter = null;
        await EventuallyAsync(async () =>
        {
            try { configAfter = await restarted.Writer.Ask<ConfigContent>(new ReadConfig(), TimeSpan.FromSeconds(2)); }
            catch (Exception e) when (e is AskTimeoutException or ConfigNotReadableException) { }
            return configAfter is not null;
        }, "the restarted node's config writer answers", TimeSpan.FromSeconds(30));
        Assert.Equal(configBefore.Revision, configAfter!.Revision);
        Assert.Equal(configBefore.Resources, configAfter.Resources);

        // The same manifests applied again change nothing: the saved copy kept every field.
        var reapplied = Assert.IsType<ConfigAccepted>(await restarted.Writer.Ask<object>(new ApplyConfig(Decode(
            Service("web", "lkg", "127.3.1.1"), Workload("web-1", "lkg", "127.3.1.10", "web"),
            Service("api", "lkg", "127.3.1.2", 19001), Rule("web", "lkg", "web", "v1"))), Patience));
        Assert.Equal(2, reapplied.Revision);
        Assert.All(reapplied.Changes, c => Assert.Equal(ChangeAction.Unchanged, c.Action));

        // The revisions carry on from the saved one, and the copy on disk follows.
        var next = await ApplyAsync(restarted, Route("web", "lkg", "web", "v1"));
        Assert.Equal(3, next.Revision);
        Assert.Equal(3, restarted.Routes.Current.Revision);
        await SavedAsync(_directory, 3);
    }

    [Fact]
    public async Task A_node_on_a_corrupt_last_known_good_starts_empty_and_overwrites_it()
    {
        var lkg = new LastKnownGood(_directory);
        File.WriteAllText(lkg.Path, "# akkal4 last-known-good revision 9\nkind: [oops\n");

        await using var node = await StartNodeAsync("lkg-corrupt", _directory);

        Assert.Equal(0, node.Routes.Current.Revision);
        Assert.Null(node.Applied);
        var empty = await ReadAsync(node);
        Assert.Equal(0, empty.Revision);
        Assert.Empty(empty.Resources);
        var accepted = await ApplyAsync(node, Service("web", "lkg", "127.3.1.3"));
        Assert.Equal(1, accepted.Revision);
        await BoundAsync(node);
        await SavedAsync(_directory, 1);
        Assert.Equal("Service/lkg/web", Assert.Single(lkg.Load(out _)!.Resources).Key.ToString());
    }

    [Fact]
    public async Task A_delete_is_saved_too()
    {
        await using var node = await StartNodeAsync("lkg-delete", _directory);
        await ApplyAsync(node, Workload("web-1", "lkg", "127.3.1.11", "web"), Workload("web-2", "lkg", "127.3.1.12", "web"));

        var reply = await node.Writer.Ask<object>(new DeleteResource(new ResourceKey("WorkloadEntry", "lkg", "web-1")), Patience);

        Assert.Equal(2, Assert.IsType<ConfigAccepted>(reply).Revision);
        await SavedAsync(_directory, 2);
        Assert.Equal("WorkloadEntry/lkg/web-2", Assert.Single(new LastKnownGood(_directory).Load(out _)!.Resources).Key.ToString());
    }
}
