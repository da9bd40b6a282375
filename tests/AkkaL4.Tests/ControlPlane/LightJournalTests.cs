using System.Globalization;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Persistence;
using AkkaL4.Actors;
using AkkaL4.Actors.ControlPlane.Journal;
using AkkaL4.Messages.Events;
using AkkaL4.Tests.Support;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// The light journal and snapshot store (ADO.NET, issue #15) on the tables Akka.Persistence.Sql makes, in a real SQLite file
/// and a real PostgreSQL: what either plugin writes (events, snapshots, deletions) the other recovers, and a batch the
/// database refuses is not half-written.
/// </summary>
[Trait("Category", "Postgres")]
public sealed class LightJournalTests(PostgresServer postgres) : IClassFixture<PostgresServer>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    public static TheoryData<string, string, string> Pairs => new()
    {
        { "sqlite", "sql", "light" },
        { "sqlite", "light", "sql" },
        { "postgres", "sql", "light" },
        { "postgres", "light", "sql" },
    };

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task Events_snapshots_and_deletions_written_by_one_plugin_are_recovered_by_the_other(string provider, string first, string second)
    {
        await using var database = await Database.CreateAsync(provider, postgres);

        // The first plugin makes the tables and writes: A has a snapshot at 3, then 4 and 5, and its events to 3 deleted; B's events are all deleted.
        using (var system = database.System(first))
        {
            var a = Start(system, "light-a");
            Assert.Equal(3L, await a.Ask<long>(new Recorder.Persist(1, 2, 3), Patience));
            Assert.Equal(3L, await a.Ask<long>(new Recorder.Snap(3), Patience));
            Assert.Equal(5L, await a.Ask<long>(new Recorder.Persist(4, 5), Patience));
            Assert.Equal(3L, await a.Ask<long>(new Recorder.DeleteTo(3), Patience));
            var b = Start(system, "light-b");
            Assert.Equal(2L, await b.Ask<long>(new Recorder.Persist(1, 2), Patience));
            Assert.Equal(2L, await b.Ask<long>(new Recorder.DeleteTo(2), Patience));
        }

        // The second recovers it, then snapshots at 6, deletes the older snapshot and all events.
        using (var system = database.System(second))
        {
            var a = Start(system, "light-a");
            Assert.Equal(new Recorder.Recovered(3, 3, [4, 5], 5), await a.Ask<Recorder.Recovered>(Recorder.Report, Patience));
            var b = Start(system, "light-b");
            Assert.Equal(new Recorder.Recovered(null, null, [], 2), await b.Ask<Recorder.Recovered>(Recorder.Report, Patience));
            Assert.Equal(6L, await a.Ask<long>(new Recorder.Persist(6), Patience));
            Assert.Equal(6L, await a.Ask<long>(new Recorder.Snap(6), Patience));
            Assert.Equal(5L, await a.Ask<long>(new Recorder.DeleteSnapshotsTo(5), Patience));
            Assert.Equal(6L, await a.Ask<long>(new Recorder.DeleteTo(6), Patience));
        }

        // The first again: the newest snapshot, no events, the sequence numbers go on after the deleted ones.
        using (var system = database.System(first))
        {
            var a = Start(system, "light-a");
            Assert.Equal(new Recorder.Recovered(6, 6, [], 6), await a.Ask<Recorder.Recovered>(Recorder.Report, Patience));
            Assert.Equal(7L, await a.Ask<long>(new Recorder.Persist(7), Patience));
            var b = Start(system, "light-b");
            Assert.Equal(new Recorder.Recovered(null, null, [], 2), await b.Ask<Recorder.Recovered>(Recorder.Report, Patience));
            Assert.Equal(3L, await b.Ask<long>(new Recorder.Persist(3), Patience));
        }

        using (var system = database.System(second))
        {
            var a = Start(system, "light-a");
            Assert.Equal(new Recorder.Recovered(6, 6, [7], 7), await a.Ask<Recorder.Recovered>(Recorder.Report, Patience));
            var b = Start(system, "light-b");
            Assert.Equal(new Recorder.Recovered(null, null, [3], 3), await b.Ask<Recorder.Recovered>(Recorder.Report, Patience));
        }

        // The rows themselves: A keeps its deleted marker (6) and 7, one snapshot; both plugins wrote the same serializer and manifest.
        Assert.Equal(["6 True", "7 False"], await database.ColumnAsync("SELECT sequence_number, deleted FROM journal WHERE persistence_id = 'light-a' ORDER BY sequence_number"));
        Assert.Equal(["6"], await database.ColumnAsync("SELECT sequence_number FROM snapshot WHERE persistence_id = 'light-a'"));
        Assert.Equal(["4141 nx"], await database.ColumnAsync("SELECT DISTINCT identifier, manifest FROM journal"));
        Assert.Equal(["4141 nx"], await database.ColumnAsync("SELECT DISTINCT serializer_id, manifest FROM snapshot"));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_batch_the_database_refuses_is_not_half_written(string provider)
    {
        await using var database = await Database.CreateAsync(provider, postgres);
        using var system = database.System("light");
        var other = Start(system, "light-other");
        Assert.Equal(1L, await other.Ask<long>(new Recorder.Persist(1), Patience));
        var c = Start(system, "light-c");
        Assert.Equal(new Recorder.Recovered(null, null, [], 0), await c.Ask<Recorder.Recovered>(Recorder.Report, Patience));
        // Another writer took sequence number 2 meanwhile: the batch of 1 and 2 fails on 2's row.
        await database.ExecuteAsync("INSERT INTO journal (deleted, persistence_id, sequence_number, message, manifest, identifier, created, writer_uuid) " +
                                    "SELECT deleted, 'light-c', 2, message, manifest, identifier, created, writer_uuid FROM journal WHERE persistence_id = 'light-other'");
        var stopped = c.WatchAsync();
        c.Tell(new Recorder.Persist(1, 2));
        Assert.True(await stopped.WaitAsync(Patience), "the persistent actor stops when its write fails");
        Assert.Equal(["2"], await database.ColumnAsync("SELECT sequence_number FROM journal WHERE persistence_id = 'light-c'"));
    }

    [Fact]
    public async Task A_database_user_who_may_not_create_tables_uses_the_ones_there()
    {
        await using var database = await Database.CreateAsync("postgres", postgres);
        using (var system = database.System("sql"))
            Assert.Equal(1L, await Start(system, "light-d").Ask<long>(new Recorder.Persist(1), Patience));
        // A user with rights on the rows only: creating a table (even one that exists) is refused to it.
        var user = "light_user_" + Guid.NewGuid().ToString("N");
        await database.ExecuteAsync($"CREATE ROLE {user} LOGIN; REVOKE CREATE ON SCHEMA public FROM PUBLIC; " +
                                    $"GRANT SELECT, INSERT, UPDATE, DELETE ON journal, tags, snapshot TO {user}");
        await using var asUser = database.As(user);
        using (var system = asUser.System("light"))
        {
            var warnings = Warnings.Of(system);
            var d = Start(system, "light-d");
            Assert.Equal(new Recorder.Recovered(null, null, [1], 1), await d.Ask<Recorder.Recovered>(Recorder.Report, Patience));
            Assert.Equal(2L, await d.Ask<long>(new Recorder.Persist(2), Patience));
            Assert.Equal(3L, await d.Ask<long>(new Recorder.Persist(3), Patience));
            Assert.Equal(3L, await d.Ask<long>(new Recorder.Snap(3), Patience));
            Assert.Equal(3L, await d.Ask<long>(new Recorder.Snap(3), Patience));
            // Said once by each plugin, then the tables found are used: each operation tried to create them, and warned, before.
            var said = await warnings.UpToNowAsync();
            Assert.Equal(["light journal", "light snapshot store"],
                said.Where(w => w.Contains("the tables were not created", StringComparison.Ordinal)).Select(w => w[..w.IndexOf(':')]).Order());
        }
        Assert.Equal(["1", "2", "3"], await database.ColumnAsync("SELECT sequence_number FROM journal WHERE persistence_id = 'light-d' ORDER BY sequence_number"));
    }

    private static IActorRef Start(ActorSystem system, string id) => system.ActorOf(Props.Create(() => new Recorder(id)));

    [Fact]
    public async Task A_plugin_starting_on_a_shared_database_does_not_wait_behind_a_write_in_flight()
    {
        await using var database = await Database.CreateAsync("postgres", postgres);
        using (var system = database.System("light"))
            Assert.Equal(1L, await Start(system, "light-e").Ask<long>(new Recorder.Persist(1), Patience));
        // Another node's write, not committed yet: its transaction holds the journal's ROW EXCLUSIVE lock.
        await using var inFlight = new NpgsqlConnection(database.ConnectionString);
        await inFlight.OpenAsync();
        await using var transaction = await inFlight.BeginTransactionAsync();
        await using (var lockTable = new NpgsqlCommand("LOCK TABLE journal IN ROW EXCLUSIVE MODE", inFlight, transaction))
            await lockTable.ExecuteNonQueryAsync();
        // A plugin starting makes sure of its tables first: an index made IF NOT EXISTS waited for that lock (SHARE), up to the
        // command timeout (30 s), and the write with it.
        using (var system = database.System("light"))
            Assert.Equal(1L, await Start(system, "light-f").Ask<long>(new Recorder.Persist(1), TimeSpan.FromSeconds(10)));
        await transaction.RollbackAsync();
    }

    [Fact]
    public async Task A_plugin_has_at_most_its_max_connections_open_and_the_next_waits_for_one()
    {
        var directory = Path.Combine(Path.GetTempPath(), "akkal4-light-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            var plugin = new JournalDatabase(ConfigurationFactory.ParseString(
                $"provider-name = SQLite.MS\nconnection-string = \"Data Source={Path.Combine(directory, "journal.db")}\"\nmax-connections = 2"));
            var first = await plugin.OpenAsync();
            await using var second = await plugin.OpenAsync();
            var third = plugin.OpenAsync();
            Assert.False(third.IsCompleted, "a third connection opened beside two with max-connections = 2");
            await first.DisposeAsync();
            await using var opened = await third.WaitAsync(Patience);
            Assert.Equal(System.Data.ConnectionState.Open, opened.Connection.State);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("max-connections = 0", "max-connections = 0: must be at least 1")]
    [InlineData("max-connections = many", "max-connections: ")]
    public void A_max_connections_below_one_or_not_a_number_is_refused_naming_the_key(string setting, string refusal)
    {
        var refused = Assert.Throws<ConfigurationException>(() => JournalDatabase.MaxConnections(ConfigurationFactory.ParseString(setting)));
        Assert.StartsWith(refusal, refused.Message, StringComparison.Ordinal);
    }

    /// <summary>A system's warnings, as its event stream publishes them.</summary>
    private sealed record Warnings(IActorRef Collector)
    {
        public static Warnings Of(ActorSystem system)
        {
            var collector = system.ActorOf(Props.Create(() => new WarningCollector()));
            system.EventStream.Subscribe(collector, typeof(Warning));
            return new Warnings(collector);
        }

        /// <summary>Every warning published before this call: the stream puts each in the collector's mailbox as it is published.</summary>
        public Task<string[]> UpToNowAsync() => Collector.Ask<string[]>("said", Patience);
    }

    private sealed class WarningCollector : ReceiveActor
    {
        private readonly List<string> _said = [];

        public WarningCollector()
        {
            Receive<Warning>(w => _said.Add(w.Message?.ToString() ?? ""));
            Receive<string>(_ => Sender.Tell(_said.ToArray()));
        }
    }

    /// <summary>A persistent actor of <see cref="NamespaceWritten"/> events (the RouteTable's, through the node's own serializer).</summary>
    private sealed class Recorder : ReceivePersistentActor
    {
        public sealed record Persist(params long[] Revisions);
        public sealed record Snap(long Revision);
        public sealed record DeleteTo(long SequenceNr);
        public sealed record DeleteSnapshotsTo(long SequenceNr);
        public const string Report = "report";

        public sealed record Recovered(long? SnapshotAt, long? SnapshotRevision, long[] Revisions, long LastSequenceNr)
        {
            public bool Equals(Recovered? other) => other is not null && SnapshotAt == other.SnapshotAt && SnapshotRevision == other.SnapshotRevision &&
                                                    Revisions.SequenceEqual(other.Revisions) && LastSequenceNr == other.LastSequenceNr;
            public override int GetHashCode() => HashCode.Combine(SnapshotAt, LastSequenceNr);
            public override string ToString() => $"snapshot {SnapshotAt}/{SnapshotRevision}, events [{string.Join(",", Revisions)}], last {LastSequenceNr}";
        }

        private readonly List<long> _revisions = [];
        private long? _snapshotAt, _snapshotRevision;
        private IActorRef _replyTo = ActorRefs.Nobody;

        public override string PersistenceId { get; }

        private static NamespaceWritten Event(long revision) =>
            new(revision, "light", ControlPlaneKit.Decode(ControlPlaneKit.Service($"svc-{revision}", "light", "127.0.0.1")), "h" + revision);

        public Recorder(string id)
        {
            PersistenceId = id;
            Recover<SnapshotOffer>(o => (_snapshotAt, _snapshotRevision) = (o.Metadata.SequenceNr, ((NamespaceWritten)o.Snapshot).Revision));
            Recover<NamespaceWritten>(e => _revisions.Add(e.Revision));
            Command<string>(_ => Sender.Tell(new Recovered(_snapshotAt, _snapshotRevision, _revisions.ToArray(), LastSequenceNr)));
            Command<Persist>(p =>
            {
                var to = Sender;
                var left = p.Revisions.Length;
                PersistAll(p.Revisions.Select(Event), _ => { if (--left == 0) to.Tell(LastSequenceNr); });
            });
            Command<Snap>(s => { _replyTo = Sender; SaveSnapshot(Event(s.Revision)); });
            Command<SaveSnapshotSuccess>(s => _replyTo.Tell(s.Metadata.SequenceNr));
            Command<DeleteTo>(d => { _replyTo = Sender; DeleteMessages(d.SequenceNr); });
            Command<DeleteMessagesSuccess>(s => _replyTo.Tell(s.ToSequenceNr));
            Command<DeleteSnapshotsTo>(d => { _replyTo = Sender; DeleteSnapshots(new SnapshotSelectionCriteria(d.SequenceNr)); });
            Command<DeleteSnapshotsSuccess>(s => _replyTo.Tell(s.Criteria.MaxSequenceNr));
        }
    }

    /// <summary>A fresh journal database: a SQLite file in a temporary directory, or a new database in the test PostgreSQL.</summary>
    private sealed class Database : IAsyncDisposable
    {
        private readonly string? _directory;
        private readonly string _provider;
        private readonly string _connectionString;

        public string ConnectionString => _connectionString;

        private Database(string provider, string connectionString, string? directory) =>
            (_provider, _connectionString, _directory) = (provider, connectionString, directory);

        public static async Task<Database> CreateAsync(string provider, PostgresServer postgres)
        {
            if (provider == "sqlite")
            {
                var directory = Path.Combine(Path.GetTempPath(), "akkal4-light-" + Guid.NewGuid().ToString("N"));
                Directory.CreateDirectory(directory);
                return new Database("SQLite.MS", $"Data Source={Path.Combine(directory, "journal.db")}", directory);
            }
            var name = "light_" + Guid.NewGuid().ToString("N");
            await using (var admin = new NpgsqlConnection(postgres.ConnectionString))
            {
                await admin.OpenAsync();
                await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
                await create.ExecuteNonQueryAsync();
            }
            return new Database("PostgreSQL.15", new NpgsqlConnectionStringBuilder(postgres.ConnectionString) { Database = name }.ConnectionString, null);
        }

        /// <summary>The same database, connected to as <paramref name="user"/>.</summary>
        public Database As(string user) =>
            new(_provider, new NpgsqlConnectionStringBuilder(_connectionString) { Username = user }.ConnectionString, null);

        /// <summary>A system whose journal and snapshot store are the plugin <paramref name="plugin"/> (sql or light, as cluster.hocon defines it) on this database.</summary>
        public ActorSystem System(string plugin)
        {
            var quoted = "\"" + _connectionString.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
            var settings = $$"""
                akka.actor.provider = local
                akka.loglevel = WARNING
                akka.persistence.journal.plugin = "akka.persistence.journal.{{plugin}}"
                akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.{{plugin}}"
                akka.persistence.journal.{{plugin}} { provider-name = "{{_provider}}", connection-string = {{quoted}} }
                akka.persistence.snapshot-store.{{plugin}} { provider-name = "{{_provider}}", connection-string = {{quoted}} }
                """;
            return ActorSystem.Create("light-journal-" + plugin, ConfigurationFactory.ParseString(settings)
                .WithFallback(Akka.Persistence.Sql.SqlPersistence.DefaultConfiguration)
                .WithFallback(ConfigurationFactory.ParseString(RouterNode.BuiltInHocon())));
        }

        private JournalDatabase Connect() =>
            new(ConfigurationFactory.ParseString($"provider-name = \"{_provider}\"\nconnection-string = \"{_connectionString.Replace("\\", "\\\\")}\""));

        public async Task ExecuteAsync(string sql)
        {
            await using var lease = await Connect().OpenAsync();
            await using var command = JournalDatabase.Command(lease.Connection, null, sql);
            await command.ExecuteNonQueryAsync();
        }

        /// <summary>Each row's columns, joined by a space (booleans as True/False whichever way the database stores them).</summary>
        public async Task<string[]> ColumnAsync(string sql)
        {
            await using var lease = await Connect().OpenAsync();
            await using var command = JournalDatabase.Command(lease.Connection, null, sql);
            await using var reader = await command.ExecuteReaderAsync();
            var rows = new List<string>();
            while (await reader.ReadAsync())
                rows.Add(string.Join(" ", Enumerable.Range(0, reader.FieldCount).Select(i =>
                    reader.GetName(i) == "deleted" ? reader.GetBoolean(i).ToString() : Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture))));
            return rows.ToArray();
        }

        public ValueTask DisposeAsync()
        {
            if (_directory is null) return ValueTask.CompletedTask;
            SqliteConnection.ClearAllPools();
            Directory.Delete(_directory, recursive: true);
            return ValueTask.CompletedTask;
        }
    }
}
