using System.Net;
using Akka.Actor;
using System.Net.Sockets;
using AkkaL4.Actors;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Model;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Queries;
using AkkaL4.Messages.Events;
using AkkaL4.Tests.Support;
using Akka.Event;

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
        Assert.Equal(new LastKnownGood.CopyState(2, null, null), restarted.LastKnownGoodCopy);
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
        await EventuallyAsync(() => restarted.LastKnownGoodCopy == new LastKnownGood.CopyState(3, null, null), "the node's status says the copy holds 3");
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

/// <summary>
/// How the copy on disk is written (session 12, mem12): off the route cache's thread, in the order of revisions (a newer
/// copy is never replaced by an older one), and by namespace from the file last written rather than from a copy of the
/// text kept in memory.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class LastKnownGoodWriteTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly string _directory = TempDirectory();

    public void Dispose() => DeleteDirectory(_directory);

    private static ConfigContent Revision(long revision, string ip) => new(revision, Decode(Service($"web-{revision}", "lkg", ip)));

    private static long SavedRevision(LastKnownGood lkg) => LastKnownGood.Parse(File.ReadAllText(lkg.Path), lkg.Path, out _)!.Revision;

    [Fact]
    public async Task A_save_later_returns_while_the_write_waits_and_an_older_revision_never_replaces_a_newer()
    {
        var lkg = new LastKnownGood(_directory);
        var writes = new List<long>();
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        lkg.BeforeWrite = revision =>
        {
            lock (writes) writes.Add(revision);
            if (revision == 2)
            {
                entered.Set();
                release.Wait(Patience);
            }
        };

        lkg.SaveLater(Revision(2, "127.220.100.2"), NoLogger.Instance);
        Assert.True(entered.Wait(Patience), "the write of revision 2 started");
        // The writer is held inside revision 2's write: these calls return all the same (the route cache goes on).
        lkg.SaveLater(Revision(5, "127.220.100.5"), NoLogger.Instance);
        lkg.SaveLater(Revision(3, "127.220.100.3"), NoLogger.Instance);
        lkg.SaveLater(Revision(4, "127.220.100.4"), NoLogger.Instance);
        Assert.False(File.Exists(lkg.Path));
        release.Set();
        await lkg.Idle.WaitAsync(Patience);

        Assert.Equal([2, 5], writes);
        Assert.Equal(5, SavedRevision(lkg));
        Assert.Equal("Service/lkg/web-5", Assert.Single(lkg.Load(out _)!.Resources).Key.ToString());

        // Once 5 is written, an older one handed over later is dropped too.
        lkg.SaveLater(Revision(4, "127.220.100.4"), NoLogger.Instance);
        await lkg.Idle.WaitAsync(Patience);
        Assert.Equal([2, 5], writes);
        Assert.Equal(5, SavedRevision(lkg));
    }

    [Fact]
    public async Task Revisions_handed_over_from_several_threads_in_any_order_end_at_the_newest_written_in_order()
    {
        var lkg = new LastKnownGood(_directory);
        var writes = new List<long>();
        lkg.BeforeWrite = revision => { lock (writes) writes.Add(revision); };
        var revisions = Enumerable.Range(1, 120).Select(r => Revision(r, $"127.220.101.{r}")).ToArray();
        Random.Shared.Shuffle(revisions);

        await Task.WhenAll(revisions.Chunk(15).Select(chunk => Task.Run(() =>
        {
            foreach (var content in chunk) lkg.SaveLater(content, NoLogger.Instance);
        })));
        await lkg.Idle.WaitAsync(Patience);

        Assert.Equal(120, SavedRevision(lkg));
        Assert.NotEmpty(writes);
        Assert.Equal(writes.Order(), writes);
        Assert.Equal(writes.Distinct().Count(), writes.Count);
    }

    [Fact]
    public async Task A_failed_write_does_not_stop_the_next()
    {
        var lkg = new LastKnownGood(_directory);
        lkg.BeforeWrite = revision => { if (revision == 1) throw new IOException("disk full"); };

        lkg.SaveLater(Revision(1, "127.220.102.1"), NoLogger.Instance);
        await lkg.Idle.WaitAsync(Patience);
        Assert.False(File.Exists(lkg.Path));
        lkg.SaveLater(Revision(2, "127.220.102.2"), NoLogger.Instance);
        await lkg.Idle.WaitAsync(Patience);

        Assert.Equal(2, SavedRevision(lkg));
    }

    [Fact]
    public async Task A_failed_write_is_shown_and_tried_again_while_it_is_the_newest()
    {
        var lkg = new LastKnownGood(_directory) { FirstRetryDelay = TimeSpan.FromMilliseconds(50) };
        var failures = 0;
        lkg.BeforeWrite = revision => { if (revision == 2 && Interlocked.Increment(ref failures) <= 2) throw new IOException("disk full"); };

        lkg.SaveLater(Revision(1, "127.220.200.1"), NoLogger.Instance);
        await lkg.Idle.WaitAsync(Patience);
        Assert.Equal(new LastKnownGood.CopyState(1, null, null), lkg.State);
        lkg.SaveLater(Revision(2, "127.220.200.2"), NoLogger.Instance);
        await lkg.Idle.WaitAsync(Patience);
        // The node routes by 2; the copy says 1 and the state says why.
        Assert.Equal(1, SavedRevision(lkg));
        Assert.Equal(2, lkg.State.Failed);
        Assert.Equal("disk full", lkg.State.Error);

        // Tried again (twice: the second fails too) until written.
        await EventuallyAsync(() => lkg.State.Failed is null, "the failed write of revision 2 is tried again until written", Patience);
        Assert.Equal(new LastKnownGood.CopyState(2, null, null), lkg.State);
        Assert.Equal(2, SavedRevision(lkg));
        Assert.Equal(3, Volatile.Read(ref failures));
    }

    [Fact]
    public async Task A_writer_thread_that_does_not_start_leaves_nothing_busy_and_is_tried_again()
    {
        var lkg = new LastKnownGood(_directory) { FirstRetryDelay = TimeSpan.FromMilliseconds(50) };
        var starts = 0;
        lkg.StartWriter = thread =>
        {
            if (Interlocked.Increment(ref starts) == 1) throw new OutOfMemoryException("no thread");
            thread.Start();
        };

        lkg.SaveLater(Revision(1, "127.220.201.1"), NoLogger.Instance);
        Assert.True(lkg.Idle.IsCompleted, "nothing is writing, so a stopping node must not wait");
        Assert.Equal(new LastKnownGood.CopyState(null, 1, "no thread"), lkg.State);

        await EventuallyAsync(() => lkg.State.Failed is null, "the writer thread is started again and writes revision 1", Patience);
        await lkg.Idle.WaitAsync(Patience);
        Assert.Equal(1, SavedRevision(lkg));
        Assert.Equal(new LastKnownGood.CopyState(1, null, null), lkg.State);
    }

    [Fact]
    public void A_copy_is_flushed_to_the_disk_before_its_rename_and_its_directory_after()
    {
        var lkg = new LastKnownGood(_directory);
        var steps = new List<string>();
        void Synced(string path)
        {
            if (!path.StartsWith(_directory, StringComparison.Ordinal)) return; // another test's
            lock (steps) steps.Add(path == _directory ? "directory" : $"{Path.GetFileName(path)}, final name {(File.Exists(lkg.Path) ? "there" : "not yet there")}");
        }

        PrivateFiles.Synced += Synced;
        try
        {
            lkg.Save(Revision(1, "127.201.100.1"));
        }
        finally
        {
            PrivateFiles.Synced -= Synced;
        }

        // A power loss after the rename finds the whole file under its final name, and the rename itself.
        Assert.Equal(["last-known-good.yaml.tmp, final name not yet there", "directory"], steps);
        Assert.Equal(1, SavedRevision(lkg));
    }

    [Fact]
    public async Task A_retry_pending_when_the_node_stops_writes_nothing_after()
    {
        var retry = TimeSpan.FromMilliseconds(50);
        var lkg = new LastKnownGood(_directory) { FirstRetryDelay = retry };
        var attempts = 0;
        lkg.BeforeWrite = _ =>
        {
            if (Interlocked.Increment(ref attempts) == 1) throw new IOException("disk full");
        };
        lkg.SaveLater(Revision(1, "127.201.101.1"), NoLogger.Instance);
        await lkg.Idle.WaitAsync(Patience);
        Assert.Equal(1, lkg.State.Failed);

        lkg.Stop();
        lkg.SaveLater(Revision(2, "127.201.101.2"), NoLogger.Instance);
        // Nothing can be awaited for what must not happen: twenty times the retry's wait, which a pending retry would use.
        await Task.Delay(retry * 20);
        await lkg.Idle.WaitAsync(Patience);

        Assert.Equal(1, Volatile.Read(ref attempts));
        Assert.False(File.Exists(lkg.Path), "a copy was written after the node stopped");
    }

    [Fact]
    public async Task The_writer_thread_does_not_keep_the_process_alive()
    {
        var lkg = new LastKnownGood(_directory);
        bool? background = null;
        lkg.BeforeWrite = _ => background = Thread.CurrentThread.IsBackground;

        lkg.SaveLater(Revision(1, "127.220.202.1"), NoLogger.Instance);
        await lkg.Idle.WaitAsync(Patience);

        Assert.True(background, "a foreground writer hung on the disk would block the process's exit");
    }

    private static ConfigContent ByNamespace(long revision, params (string Namespace, IReadOnlyList<Resource> Resources)[] namespaces) =>
        new(revision, new NamespacedResources(namespaces.Select(n => new NamespaceResources(n.Namespace, n.Resources)).ToList()));

    [Fact]
    public void An_unchanged_namespace_is_copied_from_the_file_last_written_and_a_changed_one_encoded()
    {
        var lkg = new LastKnownGood(_directory);
        var alpha = Decode(Service("web", "alpha", "127.220.103.1"));
        lkg.Save(ByNamespace(1, ("alpha", alpha), ("beta", Decode(Service("web", "beta", "127.220.103.2")))));
        // Same length, same time: to this instance the file is still what it wrote. The change shows what was copied.
        var text = File.ReadAllText(lkg.Path);
        var time = File.GetLastWriteTimeUtc(lkg.Path);
        File.WriteAllText(lkg.Path, text.Replace("127.220.103.1", "127.220.103.9"));
        File.SetLastWriteTimeUtc(lkg.Path, time);

        var next = ByNamespace(2, ("alpha", alpha), ("beta", Decode(Service("api", "beta", "127.220.103.3"))));
        lkg.Save(next);

        var saved = File.ReadAllText(lkg.Path);
        Assert.StartsWith("# akkal4 last-known-good revision 2\n", saved);
        Assert.Contains("127.220.103.9", saved);
        Assert.DoesNotContain("127.220.103.1", saved);
        Assert.Contains("127.220.103.3", saved);
        Assert.Equal(LastKnownGood.Format(next), saved.Replace("127.220.103.9", "127.220.103.1"));
    }

    [Fact]
    public void A_file_changed_since_it_was_written_is_not_copied_from()
    {
        var lkg = new LastKnownGood(_directory);
        var alpha = Decode(Service("web", "alpha", "127.220.104.1"));
        lkg.Save(ByNamespace(1, ("alpha", alpha)));
        File.WriteAllText(lkg.Path, File.ReadAllText(lkg.Path).Replace("127.220.104.1", "127.220.104.99"));

        var next = ByNamespace(2, ("alpha", alpha), ("beta", Decode(Service("api", "beta", "127.220.104.2"))));
        lkg.Save(next);

        Assert.Equal(LastKnownGood.Format(next), File.ReadAllText(lkg.Path));
        Assert.Equal(next.Resources.ToList(), lkg.Load(out _)!.Resources);
    }
}
