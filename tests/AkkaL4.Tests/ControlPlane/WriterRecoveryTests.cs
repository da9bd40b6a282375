using AkkaL4.Node.Admin;
using System.Text.Json;
using System.Net;
using System.Collections.Concurrent;
using Akka;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.Persistence;
using AkkaL4.Actors;
using AkkaL4.Actors.Config;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Events;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Queries;
using AkkaL4.Messages.Serialization;
using Microsoft.Data.Sqlite;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// The config writer on its own (a one-member cluster, a SQLite journal) beside stand-in RouteTable entities the test
/// controls: entities that stay behind or never confirm, and a journal that does not read back. The writer never gives a
/// revision number twice, never leaves a write unanswered while it recovers, and keeps its journal short whatever the
/// entities do. Addresses: 127.100.5.x.
/// </summary>
[Trait("Category", "EndToEnd")]
public class WriterRecoveryTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>What the stand-in entities hold, and how they behave; shared by the writers of one test.</summary>
    private sealed class Tables
    {
        public readonly ConcurrentDictionary<string, StoreNamespace> Held = new(StringComparer.Ordinal);
        public readonly ConcurrentQueue<StoreNamespace> Sent = new();
        public volatile bool Confirm = true;
        /// <summary>Answer reads with revision 0 (an entity whose shard moved to a host with an older journal).</summary>
        public volatile bool Behind;
        /// <summary>Confirm every store under the revision sent but with another content's hash (two contents, one revision).</summary>
        public volatile bool OtherContent;
        /// <summary>A namespace whose entity never confirms (one that cannot read what it is sent).</summary>
        public volatile string? Silent;
    }

    private sealed class FakeRouteTables : ReceiveActor
    {
        public FakeRouteTables(Tables tables)
        {
            Receive<StoreNamespace>(s =>
            {
                tables.Sent.Enqueue(s);
                if (!tables.Confirm || s.Namespace == tables.Silent) return;
                tables.Held[s.Namespace] = s;
                Sender.Tell(new NamespaceStored(s.Namespace, s.Revision, tables.OtherContent ? ModelJson.Hash(Decode(Service("other", s.Namespace, "127.100.5.99"))) : s.Hash));
            });
            Receive<ReadNamespace>(r =>
            {
                var held = tables.Behind ? null : tables.Held.GetValueOrDefault(r.Namespace);
                Sender.Tell(new NamespaceContent(r.Namespace, held?.Revision ?? 0, held?.Resources ?? [], held?.Hash ?? ModelJson.Hash([])));
            });
        }
    }

    /// <summary>
    /// Journals whatever it is sent under a persistence id (the config writer's by default: a journal written elsewhere),
    /// or saves it as its snapshot when it comes as a <see cref="Snapshot"/>.
    /// </summary>
    private sealed class Journaler : ReceivePersistentActor
    {
        private readonly string _id;

        public override string PersistenceId => _id;

        public Journaler(string id = "akkal4-config-writer")
        {
            _id = id;
            IActorRef? snapshotFor = null;
            Command<Snapshot>(s =>
            {
                snapshotFor = Sender;
                SaveSnapshot(s.State);
            });
            Command<SaveSnapshotSuccess>(_ => snapshotFor?.Tell(Done.Instance));
            CommandAny(e =>
            {
                var replyTo = Sender;
                Persist(e, _ => replyTo.Tell(Done.Instance));
            });
        }
    }

    private sealed record Snapshot(object State);

    /// <summary>Real <see cref="RouteTable"/> entities, one child per namespace, without sharding (one process).</summary>
    private sealed class LocalRouteTables : ReceiveActor
    {
        public LocalRouteTables() => Receive<Messages.Protocol.INamespaceMessage>(m =>
        {
            var child = Context.Child(m.Namespace);
            if (child.IsNobody()) child = Context.ActorOf(Props.Create(() => new RouteTable(m.Namespace)), m.Namespace);
            child.Forward(m);
        });
    }

    /// <summary>A one-member cluster on <paramref name="host"/> journaling to DATA/journal.db.</summary>
    private static async Task<ActorSystem> StartSystemAsync(string data, string host = "127.100.5.1")
    {
        var connection = $"\"Data Source={Path.Combine(data, "journal.db")}\"";
        var config = ConfigurationFactory.ParseString($$"""
                akka.loglevel = WARNING
                akka.remote.dot-netty.tcp.hostname = {{host}}
                akka.remote.dot-netty.tcp.port = 0
                akka.persistence.journal.light { provider-name = "SQLite.MS", connection-string = {{connection}} }
                akka.persistence.snapshot-store.light { provider-name = "SQLite.MS", connection-string = {{connection}} }
                """)
            .WithFallback(ConfigurationFactory.ParseString(RouterNode.BuiltInHocon()));
        var system = ActorSystem.Create("writer-recovery", config);
        var cluster = Cluster.Get(system);
        cluster.Join(cluster.SelfAddress);
        await EventuallyAsync(() => Task.FromResult(cluster.SelfMember.Status == MemberStatus.Up), "the one member is up", Wait);
        return system;
    }

    private static IActorRef StartWriter(ActorSystem system, Tables tables, bool perHostJournal) =>
        system.ActorOf(ConfigWriter.Props(() => null, system.ActorOf(Props.Create(() => new FakeRouteTables(tables))), perHostJournal));

    /// <summary>The writer's answer to a write (past its <see cref="WriteJournaled"/> notice).</summary>
    private static async Task<object> WriteAsync(IActorRef writer, params string[] documents)
    {
        var inbox = Inbox.Create(((ActorRefWithCell)writer).Underlying.System);
        inbox.Send(writer, new WriteConfig(Decode(documents), DateTimeOffset.UtcNow + Wait));
        for (; ; )
            if (await inbox.ReceiveAsync(Wait) is not WriteJournaled and var answer) return answer;
    }

    /// <summary>Writes until the writer answers other than unavailable (it may still be starting).</summary>
    private static async Task<object> WriteWhenReadyAsync(IActorRef writer, params string[] documents)
    {
        for (var deadline = DateTime.UtcNow + Wait; ; await Task.Delay(200))
        {
            var answer = await WriteAsync(writer, documents);
            if (answer is not ConfigUnavailable || DateTime.UtcNow > deadline) return answer;
        }
    }

    private static long Rows(string data, string table, bool deletedToo)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(data, "journal.db")};Pooling=false");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM {table} WHERE persistence_id = 'akkal4-config-writer'" + (deletedToo ? "" : " AND deleted = 0");
        return (long)command.ExecuteScalar()!;
    }

    [Fact]
    public async Task A_journal_that_does_not_read_back_makes_the_writer_refuse_writes_instead_of_giving_its_revision_again()
    {
        var data = TempDirectory();
        try
        {
            using (var system = await StartSystemAsync(data))
            {
                var journaler = system.ActorOf(Props.Create(() => new Journaler()));
                // Journaled as a version that kept YAML in its events did: the only events whose content can fail to read back.
                await journaler.Ask<Done>(new ManifestBatchCommitted(1, [new NamespaceManifests("wr-good", ManifestEncoder.ToYaml(Decode(Service("a", "wr-good", "127.100.5.2"))))]), Wait);
                await journaler.Ask<Done>(new ManifestBatchCommitted(2, [new NamespaceManifests("wr-bad", "kind: [unterminated")]), Wait);
                await system.Terminate();
            }
            using (var system = await StartSystemAsync(data))
            {
                var writer = StartWriter(system, new Tables(), perHostJournal: true);
                var answer = Assert.IsType<ConfigUnavailable>(await WriteAsync(writer, Service("b", "wr-good", "127.100.5.3")));
                Assert.Contains("refuses writes", answer.Reason);
                Assert.Contains("revision 2", answer.Reason);
                Assert.Contains("wr-bad", answer.Reason);
                // Queries are answered at once too, with the same reason.
                Assert.Contains("refuses writes", (await writer.Ask<ConfigUnavailable>(ReadIndex.Instance, Wait)).Reason);
                var status = await writer.Ask<WriterStatus>(ReadWriterStatus.Instance, Wait);
                Assert.Equal(("refusing", 2L), (status.State, status.Revision));
                Assert.Contains("wr-bad", status.Reason);
                await system.Terminate();
            }
        }
        finally
        {
            DeleteDirectory(data);
        }
    }

    [Fact]
    public async Task While_route_tables_stay_behind_a_recovering_writer_answers_writes_at_once_naming_them_and_serves_once_they_catch_up()
    {
        var data = TempDirectory();
        var tables = new Tables();
        try
        {
            long last;
            using (var system = await StartSystemAsync(data))
            {
                // A shared journal's checkpoint is the index only: the content is in the entities.
                var writer = StartWriter(system, tables, perHostJournal: false);
                Assert.IsType<ConfigAccepted>(await WriteWhenReadyAsync(writer, Service("kept", "wr-kept", "127.100.5.4")));
                ConfigAccepted accepted = null!;
                for (var i = 1; i <= ConfigWriter.SnapshotEvery; i++)
                    accepted = Assert.IsType<ConfigAccepted>(await WriteAsync(writer, Service("moving", "wr-moving", "127.100.5.5", app: $"app{i}")));
                last = accepted.Revision;
                await EventuallyAsync(() => Task.FromResult(Rows(data, "snapshot", deletedToo: true) > 0), "the writer checkpointed", Wait);
                await system.Terminate();
            }
            tables.Behind = true;
            using (var system = await StartSystemAsync(data))
            {
                var writer = StartWriter(system, tables, perHostJournal: false);
                // Promptly, not after the ask's timeout: the writer says whom it waits for.
                await EventuallyAsync(async () =>
                {
                    var waiting = Assert.IsType<ConfigUnavailable>(await WriteAsync(writer, Service("new", "wr-new", "127.100.5.6")));
                    Assert.Contains("recovering", waiting.Reason);
                    Assert.Contains("wr-kept", waiting.Reason);
                    // First "no answer", then what the entity answered.
                    return waiting.Reason.Contains("wr-kept (its route table holds revision 0");
                }, "the writer names the entity that is behind", Wait);
                Assert.Contains("wr-kept (its route table holds revision 0", (await writer.Ask<ConfigUnavailable>(ReadIndex.Instance, Wait)).Reason);
                Assert.Equal("recovering", (await writer.Ask<WriterStatus>(ReadWriterStatus.Instance, Wait)).State);

                tables.Behind = false;
                var next = Assert.IsType<ConfigAccepted>(await WriteWhenReadyAsync(writer, Service("new", "wr-new", "127.100.5.6")));
                Assert.Equal(last + 1, next.Revision);
                var index = await writer.Ask<ConfigIndex>(ReadIndex.Instance, Wait);
                Assert.Equal(["wr-kept", "wr-moving", "wr-new"], index.Namespaces.Select(n => n.Namespace));
                await system.Terminate();
            }
        }
        finally
        {
            DeleteDirectory(data);
        }
    }

    [Fact]
    public async Task Entities_that_never_confirm_do_not_grow_the_journal_and_recovery_then_needs_no_entity()
    {
        var data = TempDirectory();
        var tables = new Tables { Confirm = false };
        try
        {
            long last;
            using (var system = await StartSystemAsync(data))
            {
                var writer = StartWriter(system, tables, perHostJournal: false);
                ConfigAccepted accepted = null!;
                for (var i = 1; i <= 2 * ConfigWriter.SnapshotEvery + 1; i++)
                    accepted = Assert.IsType<ConfigAccepted>(await WriteWhenReadyAsync(writer, Service($"s{i % 3}", $"wr-s{i % 3}", "127.100.5.7", app: $"app{i}")));
                last = accepted.Revision;
                // A whole-configuration checkpoint, and the batches before it deleted, although no entity ever confirmed.
                await EventuallyAsync(() => Task.FromResult(Rows(data, "snapshot", deletedToo: true) > 0
                    && Rows(data, "journal", deletedToo: false) < ConfigWriter.SnapshotEvery), "the writer checkpointed and truncated its journal", Wait);
                await system.Terminate();
            }
            // Entities that hold nothing: the checkpoint itself has the configuration.
            tables.Behind = true;
            var sentBefore = tables.Sent.Count(s => s.Namespace == "wr-s0");
            using (var system = await StartSystemAsync(data))
            {
                var writer = StartWriter(system, tables, perHostJournal: false);
                var next = Assert.IsType<ConfigAccepted>(await WriteWhenReadyAsync(writer, Service("new", "wr-new", "127.100.5.8")));
                Assert.Equal(last + 1, next.Revision);
                var index = await writer.Ask<ConfigIndex>(ReadIndex.Instance, Wait);
                Assert.Equal(["wr-new", "wr-s0", "wr-s1", "wr-s2"], index.Namespaces.Select(n => n.Namespace));
                // The namespaces still unconfirmed are sent on.
                await EventuallyAsync(() => Task.FromResult(tables.Sent.Count(s => s.Namespace == "wr-s0" && s.Revision == index.Namespaces[1].Revision) > 0
                        && tables.Sent.Count(s => s.Namespace == "wr-s0") > sentBefore),
                    "wr-s0 is sent to its entity again after the restart", Wait);
                await system.Terminate();
            }
        }
        finally
        {
            DeleteDirectory(data);
        }
    }

    /// <summary>
    /// review1-s10 #3: a namespace whose entity never confirms was sent every 30 s for ever, held every checkpoint back to
    /// twice as many batches and was not in the writer's status. Addresses: 127.180.100.x.
    /// </summary>
    [Fact]
    public async Task A_namespace_its_entity_never_confirms_is_reported_sent_rarely_and_holds_back_no_checkpoint_and_its_content_survives()
    {
        var data = TempDirectory();
        var tables = new Tables { Silent = "wr-silent" };
        var pacing = new ConfigWriter.OutboxPacing(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200), 3, TimeSpan.FromHours(1));
        var silent = Service("silent", "wr-silent", "127.180.100.2");
        int SentSilent() => tables.Sent.Count(s => s.Namespace == "wr-silent");
        try
        {
            long revision;
            using (var system = await StartSystemAsync(data, "127.180.100.1"))
            {
                var writer = system.ActorOf(ConfigWriter.Props(() => null, system.ActorOf(Props.Create(() => new FakeRouteTables(tables))), false, null, pacing));
                revision = Assert.IsType<ConfigAccepted>(await WriteWhenReadyAsync(writer, silent)).Revision;
                WriterStatus status = null!;
                await EventuallyAsync(async () => (status = await writer.Ask<WriterStatus>(ReadWriterStatus.Instance, Wait)).Reason is not null,
                    () => $"the writer's status names the namespace its entity does not confirm (it says {status})", Wait);
                Assert.Equal(("serving", revision), (status.State, status.Revision));
                Assert.Contains($"wr-silent (revision {revision}, {pacing.ReportAfter + 1} sends", status.Reason);
                // Reported on the send after the last of ReportAfter left unconfirmed; the next is an hour away. (The fake route
                // tables count a send as their mailbox takes it, which can be after the status says so: a CI run at 9ccaea4 read 3.)
                await EventuallyAsync(() => Task.FromResult(SentSilent() == pacing.ReportAfter + 1),
                    () => $"{pacing.ReportAfter + 1} sends of wr-silent (counted: {SentSilent()})", Wait);

                // Other namespaces' batches, confirmed at once: the checkpoint comes after SnapshotEvery of them (not twice as
                // many) and carries the whole configuration, and the journal before it is deleted.
                for (var i = 1; i <= ConfigWriter.SnapshotEvery; i++)
                    Assert.IsType<ConfigAccepted>(await WriteAsync(writer, Service("other", "wr-other", "127.180.100.3", app: $"app{i}")));
                await EventuallyAsync(() => Task.FromResult(Rows(data, "snapshot", deletedToo: true) > 0
                    && Rows(data, "journal", deletedToo: false) < ConfigWriter.SnapshotEvery / 2), "the writer checkpointed and truncated its journal", Wait);
                Assert.Equal(pacing.ReportAfter + 1, SentSilent());
                await system.Terminate();
            }
            // Entities that hold nothing, and the silent one still silent: its content comes back from the writer's checkpoint.
            tables.Behind = true;
            var before = SentSilent();
            using (var system = await StartSystemAsync(data, "127.180.100.1"))
            {
                var writer = system.ActorOf(ConfigWriter.Props(() => null, system.ActorOf(Props.Create(() => new FakeRouteTables(tables))), false, null, pacing));
                Assert.IsType<ConfigAccepted>(await WriteWhenReadyAsync(writer, Service("new", "wr-new", "127.180.100.4")));
                var index = await writer.Ask<ConfigIndex>(ReadIndex.Instance, Wait);
                Assert.Equal(revision, index.Namespaces.Single(n => n.Namespace == "wr-silent").Revision);
                await EventuallyAsync(() => Task.FromResult(SentSilent() > before), "wr-silent is sent to its entity again after the restart", Wait);
                var resent = tables.Sent.Last(s => s.Namespace == "wr-silent");
                Assert.Equal(revision, resent.Revision);
                // What it was sent before the restart (as written, stamped with its resourceVersion), under the same hash.
                var sent = tables.Sent.First(s => s.Namespace == "wr-silent");
                Assert.Equal(sent.Resources, resent.Resources);
                Assert.Equal((sent.Hash, ModelJson.Hash(resent.Resources)), (resent.Hash, resent.Hash));
                Assert.Equal("Service/wr-silent/silent", Assert.Single(resent.Resources).Key.ToString());
                await system.Terminate();
            }
        }
        finally
        {
            DeleteDirectory(data);
        }
    }

    [Fact]
    public async Task A_journal_written_by_a_version_that_kept_yaml_in_its_events_recovers_the_writer_and_its_route_tables()
    {
        var data = TempDirectory();
        string a = Service("a", "wr-old-a", "127.100.5.10"), b = Service("b", "wr-old-b", "127.100.5.11"), c = Service("c", "wr-old-c", "127.100.5.12");
        string Yaml(string document) => ManifestEncoder.ToYaml(Decode(document));
        try
        {
            using (var system = await StartSystemAsync(data))
            {
                // As the YAML version left them: an index-only checkpoint at 2 (the content in the entities), a batch after
                // it, and the entities' own events.
                var writer = system.ActorOf(Props.Create(() => new Journaler("akkal4-config-writer")));
                await writer.Ask<Done>(new Snapshot(new ManifestWriterCheckpoint(2, [new NamespaceRevision("wr-old-a", 1), new NamespaceRevision("wr-old-b", 2)])), Wait);
                await writer.Ask<Done>(new ManifestBatchCommitted(3, [new NamespaceManifests("wr-old-c", Yaml(c))]), Wait);
                var tableA = system.ActorOf(Props.Create(() => new Journaler(RouteTable.PersistenceIdOf("wr-old-a"))));
                await tableA.Ask<Done>(new ManifestNamespaceWritten(1, "wr-old-a", Yaml(a)), Wait);
                var tableB = system.ActorOf(Props.Create(() => new Journaler(RouteTable.PersistenceIdOf("wr-old-b"))));
                await tableB.Ask<Done>(new Snapshot(new ManifestNamespaceWritten(2, "wr-old-b", Yaml(b))), Wait);
                await system.Terminate();
            }
            using (var system = await StartSystemAsync(data))
            {
                var tables = system.ActorOf(Props.Create(() => new LocalRouteTables()));
                var writer = system.ActorOf(ConfigWriter.Props(() => null, tables, perHostJournal: false));
                var next = Assert.IsType<ConfigAccepted>(await WriteWhenReadyAsync(writer, Service("d", "wr-old-d", "127.100.5.13")));
                Assert.Equal(4, next.Revision);
                var index = await writer.Ask<ConfigIndex>(ReadIndex.Instance, Wait);
                Assert.Equal([("wr-old-a", 1L), ("wr-old-b", 2L), ("wr-old-c", 3L), ("wr-old-d", 4L)], index.Namespaces.Select(n => (n.Namespace, n.Revision)));
                // The entities read their YAML events back as typed resources, under the hash of that content.
                var readA = await tables.Ask<NamespaceContent>(new ReadNamespace("wr-old-a"), Wait);
                Assert.Equal(Decode(a), readA.Resources);
                Assert.Equal(ModelJson.Hash(readA.Resources), readA.Hash);
                Assert.Equal(index.Namespaces[0].Hash, readA.Hash);
                // The batch journaled after the checkpoint reaches its entity as what it said.
                await EventuallyAsync(async () => (await tables.Ask<NamespaceContent>(new ReadNamespace("wr-old-c"), Wait)).Revision == 3, "wr-old-c reaches its entity", Wait);
                Assert.Equal(Decode(c), (await tables.Ask<NamespaceContent>(new ReadNamespace("wr-old-c"), Wait)).Resources);
                await system.Terminate();
            }
        }
        finally
        {
            DeleteDirectory(data);
        }
    }

    [Fact]
    public async Task An_entity_holding_other_content_under_the_revision_is_never_taken_as_holding_it()
    {
        var data = TempDirectory();
        try
        {
            using var system = await StartSystemAsync(data);
            // The writer: a confirmation of the revision with another hash leaves the namespace in its outbox, sent again.
            var tables = new Tables { OtherContent = true };
            var writer = StartWriter(system, tables, perHostJournal: true);
            var accepted = Assert.IsType<ConfigAccepted>(await WriteWhenReadyAsync(writer, Service("a", "wr-hash", "127.100.5.20")));
            await EventuallyAsync(() => Task.FromResult(tables.Sent.Count(s => s.Namespace == "wr-hash" && s.Revision == accepted.Revision) >= 2),
                "the namespace is sent again: the confirmation's hash is not the content's", Wait);

            // A real entity that holds the revision keeps its content and answers with its hash, whatever is sent again.
            var entities = system.ActorOf(Props.Create(() => new LocalRouteTables()));
            IReadOnlyList<Resource> a = Decode(Service("a", "wr-hash-e", "127.100.5.21")), b = Decode(Service("b", "wr-hash-e", "127.100.5.22"));
            Assert.Equal(ModelJson.Hash(a), (await entities.Ask<NamespaceStored>(new StoreNamespace("wr-hash-e", 4, a, ModelJson.Hash(a)), Wait)).Hash);
            Assert.Equal(ModelJson.Hash(a), (await entities.Ask<NamespaceStored>(new StoreNamespace("wr-hash-e", 4, b, ModelJson.Hash(b)), Wait)).Hash);
            Assert.Equal(a, (await entities.Ask<NamespaceContent>(new ReadNamespace("wr-hash-e"), Wait)).Resources);

            // A reader takes a namespace only with the index's hash, and only content that is what its hash says.
            var index = new ConfigIndex(4, [new NamespaceRevision("wr-hash-e", 4, ModelJson.Hash(b))]);
            // Both wait out the reader's patience (4 s), side by side.
            var otherContent = ReadThroughAsync(system, index, entities);
            var tampered = ReadThroughAsync(system, index with { Namespaces = [new NamespaceRevision("wr-hash-e", 4, ModelJson.Hash(a))] },
                system.ActorOf(Props.Create(() => new Answering(new NamespaceContent("wr-hash-e", 4, b, ModelJson.Hash(a))))));
            Assert.Contains("wr-hash-e (its route table holds revision 4 with other content", Assert.IsType<ConfigNotReadableException>(await otherContent).Message);
            Assert.Contains("does not read back", Assert.IsType<ConfigNotReadableException>(await tampered).Message);
            var read = Assert.IsType<ConfigContent>(await ReadThroughAsync(system, index with { Namespaces = [new NamespaceRevision("wr-hash-e", 4, ModelJson.Hash(a))] }, entities));
            Assert.Equal(a, read.Resources);
            await system.Terminate();
        }
        finally
        {
            DeleteDirectory(data);
        }
    }

    /// <summary>Answers every message with one reply (a writer's index, an entity's content).</summary>
    private sealed class Answering : ReceiveActor
    {
        public Answering(object reply) => ReceiveAny(m =>
        {
            if (m is not RedeliverNamespace) Sender.Tell(reply);
        });
    }

    /// <summary>One <see cref="ConfigReader"/> read against a writer that answers <paramref name="index"/>: its content or its failure.</summary>
    private static async Task<object> ReadThroughAsync(ActorSystem system, ConfigIndex index, IActorRef routeTables)
    {
        var inbox = Inbox.Create(system);
        system.ActorOf(ConfigReader.Props(system.ActorOf(Props.Create(() => new Answering(index))), routeTables, new ReadConfig(), inbox.Receiver));
        // The inbox throws what a Status.Failure carries.
        try { return await inbox.ReceiveAsync(Wait); }
        catch (ConfigNotReadableException e) { return e; }
    }

    [Fact]
    public async Task A_writer_that_refuses_writes_says_why_in_status_and_a_read_is_503_with_that_reason()
    {
        var data = TempDirectory();
        try
        {
            using (var system = await StartSystemAsync(data))
            {
                var journaler = system.ActorOf(Props.Create(() => new Journaler("akkal4-config-writer")));
                await journaler.Ask<Done>(new ManifestBatchCommitted(1, [new NamespaceManifests("wr-refused", "kind: [unterminated")]), Wait);
                await system.Terminate();
            }
            await using var node = RouterNode.Start(new RouterNodeOptions
            {
                Name = "wr-refusing",
                DataDirectory = data,
                Overrides = "akka.loglevel = OFF\nakka.stdout-loglevel = OFF\nakka.remote.dot-netty.tcp.hostname = 127.100.6.1",
            });
            await using var admin = await AdminServer.StartAsync(node, new IPEndPoint(IPAddress.Parse("127.100.6.1"), 15000), null);
            using var http = new HttpClient { BaseAddress = new Uri("http://127.100.6.1:15000"), Timeout = Wait };
            JsonElement writer = default;
            await EventuallyAsync(async () =>
            {
                using var status = JsonDocument.Parse(await http.GetStringAsync("/v1/status"));
                writer = status.RootElement.GetProperty("configWriterState").Clone();
                return writer.ValueKind == JsonValueKind.Object && writer.GetProperty("state").GetString() == "refusing";
            }, () => $"/v1/status says the writer refuses writes (it says {writer})", Wait);
            Assert.Contains("wr-refused", writer.GetProperty("reason").GetString());
            Assert.Equal(1, writer.GetProperty("revision").GetInt64());

            // The writer's own reason, not a timeout's.
            var read = await http.GetAsync("/v1/config");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, read.StatusCode);
            Assert.Contains("refuses writes: its journal holds revision 1", await read.Content.ReadAsStringAsync());
        }
        finally
        {
            DeleteDirectory(data);
        }
    }
}
