using System.Collections.Concurrent;
using Akka;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.DistributedData;
using Akka.Persistence;
using AkkaL4.Messages.Model;
using AkkaL4.Actors;
using AkkaL4.Actors.Config;
using AkkaL4.Actors.ControlPlane;
using Microsoft.Data.Sqlite;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Events;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// The configuration's store: the config writer's journal (the write-ahead log) and the RouteTable entities. A batch
/// the writer journaled is put in force whole, by the writer or, when it crashes right after journaling, by its
/// successor; no node ever routes by part of one; GET reads the entities; the writer recovers from its checkpoint, the
/// entities and later batches, and from a journal an older version wrote. Addresses: 127.4.7.x, 127.4.8.x and
/// 127.100.1.x.
/// </summary>
[Trait("Category", "EndToEnd")]
public class WriterJournalTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private const string Quiet = $"akka.loglevel = WARNING\n{SharedAddresses}";

    /// <param name="deletedToo">Count events marked deleted (the journal may keep a deleted one to remember its sequence number).</param>
    private static long JournalRows(string data, string persistenceId, string table = "journal", bool deletedToo = true)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(data, "journal.db")};Pooling=false");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM {table} WHERE persistence_id = $id" + (deletedToo ? "" : " AND deleted = 0");
        command.Parameters.AddWithValue("$id", persistenceId);
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>Every whole configuration the node's RouteCache is handed (the replicated register), as it arrives.</summary>
    private sealed class ReplicatedRecorder : ReceiveActor
    {
        public ReplicatedRecorder(ConcurrentQueue<ConfigContent> seen)
        {
            Receive<Changed>(changed =>
            {
                seen.Enqueue(changed.Get(ConfigWriter.Key).Value);
            });
        }

        protected override void PreStart() => DistributedData.Get(Context.System).Replicator.Tell(Dsl.Subscribe(ConfigWriter.Key, Self));
    }

    [Fact]
    public async Task A_writer_that_crashes_right_after_journaling_a_batch_has_the_whole_batch_completed_by_its_successor()
    {
        var crashes = 0;
        var first = RouterNode.Start(new RouterNodeOptions
        {
            Name = "rt-crash-a",
            Overrides = Quiet,
            // Revision 2 is journaled, then its writer stops before any node has it.
            CrashWriterAfterJournaling = revision => revision == 2 && Interlocked.Exchange(ref crashes, 1) == 0,
        });
        await using var second = RouterNode.Start(new RouterNodeOptions { Name = "rt-crash-b", Seeds = [first.ClusterAddress], Overrides = Quiet });
        await using var third = RouterNode.Start(new RouterNodeOptions { Name = "rt-crash-c", Seeds = [first.ClusterAddress], Overrides = Quiet });
        RouterNode[] nodes = [first, second, third];
        string[] namespaces = ["rt-a", "rt-b", "rt-c"];
        var sampling = new CancellationTokenSource();
        try
        {
            await EventuallyAsync(() => Task.FromResult(Cluster.Get(second.ClusterSystem).State.Members.Count(m => m.Status == MemberStatus.Up) == 3),
                "three members are up", Wait);
            var one = Assert.IsType<ConfigAccepted>(await second.AskWriterAsync(new ApplyConfig(Decode(
                Service("svc", "rt-a", "127.4.7.1"), Service("svc", "rt-b", "127.4.7.2"), Service("svc", "rt-c", "127.4.7.3"))), Wait));
            Assert.Equal(1, one.Revision);
            foreach (var node in nodes) Assert.True(await node.WaitForRevisionAsync(1, Wait), "every node routes by revision 1");

            // From here on, record every configuration each node is handed and (sampled) routes by.
            var handed = nodes.Select(_ => new ConcurrentQueue<ConfigContent>()).ToArray();
            for (var i = 0; i < nodes.Length; i++)
            {
                var queue = handed[i];
                nodes[i].ClusterSystem.ActorOf(Props.Create(() => new ReplicatedRecorder(queue)));
            }
            var applied = new ConcurrentQueue<ConfigContent>();
            var sampler = Task.Run(async () =>
            {
                while (!sampling.IsCancellationRequested)
                {
                    foreach (var node in nodes)
                        if (node.Applied is { } content) applied.Enqueue(content);
                    await Task.Delay(1);
                }
            });

            // Revision 2 changes all three namespaces: an update in rt-a, a new Service in rt-b and rt-c.
            var batch = Decode(Service("svc", "rt-a", "127.4.7.11"), Service("svc2", "rt-b", "127.4.7.12"), Service("svc2", "rt-c", "127.4.7.13"));
            var batchKeys = batch.Select(r => r.Key.ToString()).Order().ToArray();
            // No answer comes for it (its writer stops); it goes to the client's dead letters.
            second.Writer.Tell(new ApplyConfig(batch));
            await EventuallyAsync(() => Task.FromResult(Volatile.Read(ref crashes) == 1), "the writer stopped right after journaling revision 2", Wait);

            // The restarted writer finds revision 2 in its journal and completes it on every node.
            foreach (var node in nodes)
                Assert.True(await node.WaitForRevisionAsync(2, Wait), $"{node.Options.Name} routes by revision 2 (it is at {node.Applied?.Revision})");
            foreach (var node in nodes)
            {
                Assert.Equal(2, node.Applied!.Revision);
                Assert.Equal(batchKeys, node.Applied.Resources.Where(r => r.Metadata.ResourceVersion == "2").Select(r => r.Key.ToString()).Order().ToArray());
                Assert.Contains(node.Routes.Current.Listeners, l => l.Address.ToString() == "127.4.7.11:19000");
                Assert.DoesNotContain(node.Routes.Current.Listeners, l => l.Address.ToString() == "127.4.7.1:19000");
            }
            // What the writer answers reads with (its journal) holds the batch too.
            foreach (var ns in namespaces)
            {
                var stored = await ReadAsync(second, ns: ns);
                Assert.Equal(2, stored.Revision);
                Assert.Equal(batchKeys.Where(k => k.Contains($"/{ns}/")), stored.Resources.Where(r => r.Metadata.ResourceVersion == "2").Select(r => r.Key.ToString()).Order());
            }

            // Never part of the batch: whatever any node was handed or routed by has all of it or none of it.
            sampling.Cancel();
            await sampler;
            var everything = handed.SelectMany(q => q).Concat(applied).ToList();
            Assert.NotEmpty(everything);
            Assert.All(everything, content =>
            {
                var fromBatch = content.Resources.Where(r => r.Metadata.ResourceVersion == "2").Select(r => r.Key.ToString()).Order().ToArray();
                Assert.Equal(content.Revision >= 2 ? batchKeys : [], fromBatch);
            });
            Assert.All(handed, q => Assert.Contains(q, c => c.Revision == 2));

            // The writer serves again, at the next revision.
            var three = Assert.IsType<ConfigAccepted>(await first.AskWriterAsync(new ApplyConfig(Decode(Service("svc3", "rt-a", "127.4.7.21"))), Wait));
            Assert.Equal(3, three.Revision);
        }
        finally
        {
            sampling.Cancel();
            await first.DisposeAsync();
        }
    }

    [Fact]
    public async Task After_a_full_restart_the_writer_recovers_from_its_checkpoint_and_later_batches_without_the_route_tables()
    {
        var data = TempDirectory();
        try
        {
            ConfigContent before;
            await using (var node = await StartNodeAsync("rt-snapshot", data))
            {
                // rt-kept is written once: after the checkpoint only its RouteTable entity holds it.
                await ApplyAsync(node, Service("s0", "rt-s0", "127.4.8.10"), Service("s1", "rt-s1", "127.4.8.11"), Service("s2", "rt-s2", "127.4.8.12"),
                    Service("kept", "rt-kept", "127.4.8.13"));
                // Past the checkpoint interval; each batch changes one of three namespaces.
                for (var i = 1; i <= ConfigWriter.SnapshotEvery + 3; i++)
                    await ApplyAsync(node, Service($"s{i % 3}", $"rt-s{i % 3}", $"127.4.8.1{i % 3}", app: $"app{i}"));
                before = await ReadAsync(node);
                Assert.Equal(ConfigWriter.SnapshotEvery + 4, before.Revision);
                // The checkpoint, then its batches deleted: the writer's journal keeps only what follows it.
                await EventuallyAsync(() => Task.FromResult(JournalRows(data, "akkal4-config-writer", "snapshot") > 0
                    && JournalRows(data, "akkal4-config-writer", deletedToo: false) < ConfigWriter.SnapshotEvery / 2), "the writer checkpointed and truncated its journal");
                Assert.True(JournalRows(data, RouteTable.PersistenceIdOf("rt-kept")) > 0, "rt-kept's entity journaled it");
            }
            // Nothing newer at hand (no last-known-good, no other node), and rt-kept's entity lost (its shard moved to a host
            // whose journal never had it): a per-host journal's checkpoint holds the whole configuration, so no entity is needed.
            File.Delete(Path.Combine(data, "last-known-good.yaml"));
            using (var connection = new SqliteConnection($"Data Source={Path.Combine(data, "journal.db")};Pooling=false"))
            {
                connection.Open();
                using var command = connection.CreateCommand();
                command.CommandText = "DELETE FROM journal WHERE persistence_id = $id; DELETE FROM snapshot WHERE persistence_id = $id";
                command.Parameters.AddWithValue("$id", RouteTable.PersistenceIdOf("rt-kept"));
                Assert.True(command.ExecuteNonQuery() > 0);
            }

            await using (var restarted = await StartNodeAsync("rt-snapshot", data))
            {
                await InForceAsync(restarted, before.Revision);
                var after = await ReadAsync(restarted);
                Assert.Equal(before.Revision, after.Revision);
                Assert.Equal(ManifestEncoder.ToYaml(before.Resources), ManifestEncoder.ToYaml(after.Resources));
                Assert.Contains(restarted.Routes.Current.Listeners, l => l.Address.ToString() == "127.4.8.13:19000");
                // It writes on from there, its journal's numbering intact.
                Assert.Equal(before.Revision + 1, (await ApplyAsync(restarted, Service("kept", "rt-kept", "127.4.8.14"))).Revision);
            }
            File.Delete(Path.Combine(data, "last-known-good.yaml"));
            await using var again = await StartNodeAsync("rt-snapshot", data);
            await InForceAsync(again, before.Revision + 1);
            Assert.Contains(again.Routes.Current.Listeners, l => l.Address.ToString() == "127.4.8.14:19000");
        }
        finally
        {
            DeleteDirectory(data);
        }
    }

    [Fact]
    public async Task GET_reads_each_namespace_from_its_route_table_entity()
    {
        var data = TempDirectory();
        try
        {
            await using (var node = await StartNodeAsync("rt-read", data))
            {
                await ApplyAsync(node, Service("web", "rt-read", "127.100.1.1"), Service("db", "rt-other", "127.100.1.2"));
                await EventuallyAsync(() => Task.FromResult(JournalRows(data, RouteTable.PersistenceIdOf("rt-read")) == 1), "rt-read's entity journaled it");
            }
            // What rt-read's entity holds changes behind everyone's back; the writer's journal and the node's copy do not.
            using (var connection = new SqliteConnection($"Data Source={Path.Combine(data, "journal.db")};Pooling=false"))
            {
                connection.Open();
                using var command = connection.CreateCommand();
                command.CommandText = "UPDATE journal SET message = CAST(REPLACE(CAST(message AS TEXT), '127.100.1.1', '127.100.1.9') AS BLOB) WHERE persistence_id = $id";
                command.Parameters.AddWithValue("$id", RouteTable.PersistenceIdOf("rt-read"));
                Assert.Equal(1, command.ExecuteNonQuery());
            }

            await using var restarted = await StartNodeAsync("rt-read", data);
            await InForceAsync(restarted, 1);
            // The node routes by its own copy; a GET reads the entities: rt-other as stored, rt-read refused, as its
            // content is no longer what its hash says (never served as the writer's).
            Assert.Contains(restarted.Routes.Current.Listeners, l => l.Address.ToString() == "127.100.1.1:19000");
            Assert.Contains("127.100.1.2", ManifestEncoder.ToYaml((await ReadAsync(restarted, ns: "rt-other")).Resources));
            var refused = await Assert.ThrowsAsync<ConfigNotReadableException>(() => ReadAsync(restarted, ns: "rt-read"));
            Assert.Contains("namespace rt-read (its route table's revision 1 does not read back", refused.Message);
        }
        finally
        {
            DeleteDirectory(data);
        }
    }

    /// <summary>Writes events under the config writer's persistence id, as a writer of an older version did.</summary>
    private sealed class OldWriter : ReceivePersistentActor
    {
        public override string PersistenceId => "akkal4-config-writer";

        public OldWriter()
        {
            Command<ManifestConfigCommitted>(e => { var replyTo = Sender; Persist(e, _ => replyTo.Tell(Done.Instance)); });
        }
    }

    [Fact]
    public async Task A_journal_of_whole_configurations_written_by_an_older_writer_still_loads_and_takes_new_batches()
    {
        var data = TempDirectory();
        try
        {
            var connection = $"\"Data Source={Path.Combine(data, "journal.db")}\"";
            var config = ConfigurationFactory.ParseString($$"""
                    akka.actor.provider = local
                    akka.persistence.journal.light { provider-name = "SQLite.MS", connection-string = {{connection}} }
                    akka.persistence.snapshot-store.light { provider-name = "SQLite.MS", connection-string = {{connection}} }
                    """)
                .WithFallback(ConfigurationFactory.ParseString(RouterNode.BuiltInHocon()));
            using (var system = ActorSystem.Create("old-writer", config))
            {
                var writer = system.ActorOf(Props.Create(() => new OldWriter()));
                var one = new ConfigContent(1, Decode(Service("old", "rt-old", "127.4.8.20")));
                var two = new ConfigContent(2, Decode(Service("old", "rt-old", "127.4.8.20"), Service("kept", "rt-kept", "127.4.8.21")));
                await writer.Ask<Done>(new ManifestConfigCommitted(1, LastKnownGood.Format(one)), Wait);
                await writer.Ask<Done>(new ManifestConfigCommitted(2, LastKnownGood.Format(two)), Wait);
                await system.Terminate();
            }

            await using (var node = await StartNodeAsync("rt-old", data))
            {
                await InForceAsync(node, 2);
                Assert.Equal(["Service/rt-kept/kept", "Service/rt-old/old"], (await ReadAsync(node)).Resources.Select(r => r.Key.ToString()).Order());
                var three = await ApplyAsync(node, Service("old", "rt-old", "127.4.8.22"));
                Assert.Equal(3, three.Revision);
            }
            File.Delete(Path.Combine(data, "last-known-good.yaml"));

            // Old whole configuration + the new batch on top of it.
            await using var restarted = await StartNodeAsync("rt-old", data);
            await InForceAsync(restarted, 3);
            var content = await ReadAsync(restarted);
            Assert.Equal(3, content.Revision);
            Assert.Equal(["Service/rt-kept/kept", "Service/rt-old/old"], content.Resources.Select(r => r.Key.ToString()).Order());
            Assert.Contains(restarted.Routes.Current.Listeners, l => l.Address.ToString() == "127.4.8.22:19000");
            Assert.DoesNotContain(restarted.Routes.Current.Listeners, l => l.Address.ToString() == "127.4.8.20:19000");
        }
        finally
        {
            DeleteDirectory(data);
        }
    }
}
