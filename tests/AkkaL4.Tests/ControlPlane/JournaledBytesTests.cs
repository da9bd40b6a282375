using System.Collections.Concurrent;
using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.Persistence.Snapshot;
using AkkaL4.Actors;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Events;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Serialization;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// What the config writer and a route-table entity journal (a batch, a checkpoint, a namespace) they encode on their own thread
/// before they hand it to the journal (ProtocolSerializer.EncodeNow, ConfigWriter, RouteTable): the journal plugin, which runs on the .NET pool, then gets those bytes and
/// encodes nothing (rel18 measured its encode of a 4 MiB batch at 0.58 s of a pool thread, heartbeats waiting for one).
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class JournaledBytesTests : IDisposable
{
    /// <summary>The node's serializer bindings (cluster.hocon), as the writer's system has them.</summary>
    private readonly ActorSystem _system = ActorSystem.Create("journaled-bytes",
        ConfigurationFactory.ParseString("akka.actor.provider = local\nakka.loglevel = WARNING").WithFallback(ConfigurationFactory.ParseString(RouterNode.BuiltInHocon())));

    public void Dispose() => _system.Dispose();

    /// <summary>A namespace over the size that is gzipped (its list spliced in as a gzip member).</summary>
    private static IReadOnlyList<Resource> Namespace() =>
        ControlPlaneKit.Decode(Enumerable.Range(0, 300).Select(i => ControlPlaneKit.Service($"svc-{i}", "journaled", "None")).ToArray());

    public static TheoryData<string> Events => ["batch", "checkpoint", "namespace"];

    [Theory]
    [MemberData(nameof(Events))]
    public void An_event_encoded_by_the_writer_is_what_the_journal_gets_not_encoded_again(string kind)
    {
        var resources = Namespace();
        object journaled = kind switch
        {
            "batch" => new BatchCommitted(7, [new NamespaceResources("journaled", resources)]),
            "checkpoint" => new WriterCheckpoint(7, [new NamespaceRevision("journaled", 7, "h")], resources),
            _ => new NamespaceWritten(7, "journaled", resources, "h"),
        };
        ProtocolSerializer.EncodeNow(_system, journaled);
        var serializer = Assert.IsType<ProtocolSerializer>(_system.Serialization.FindSerializerFor(journaled));
        // The journal's call: the writer's bytes, the very array (an encode would make a new one).
        var made = serializer.ToBinary(journaled);
        Assert.Same(made, serializer.ToBinary(journaled));
        // And they read back as the event.
        var (revision, count) = serializer.FromBinary(made, serializer.Manifest(journaled)) switch
        {
            BatchCommitted b => (b.Revision, b.Namespaces.Single().Resources.Count),
            WriterCheckpoint c => (c.Revision, c.Resources!.Count),
            NamespaceWritten n => (n.Revision, n.Resources.Count),
            var other => throw new InvalidOperationException($"read back as {other}"),
        };
        Assert.Equal((7L, resources.Count), (revision, count));
    }
}

/// <summary>
/// The same through the writer and an entity themselves (review1-s19 R3): the journal and snapshot store they are given
/// note, for each event or snapshot handed to them, whether its bytes were already made (they encode nothing themselves:
/// in memory). A one-member cluster in process, remoting on 127.215.0.2 (AddressBlocks.Of(215)).
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class JournaledBytesThroughTheWriterTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>What the plugins were handed: the payload's type and whether its bytes were made before.</summary>
    private static readonly ConcurrentQueue<(string PersistenceId, string Type, bool Encoded)> Handed = new();

    public sealed class NotingJournal : MemoryJournal
    {
        protected override Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
        {
            var writes = messages.ToList();
            foreach (var message in writes.SelectMany(w => (IEnumerable<IPersistentRepresentation>)w.Payload))
                Handed.Enqueue((message.PersistenceId, message.Payload.GetType().Name, ProtocolSerializer.HasBytes(message.Payload)));
            return base.WriteMessagesAsync(writes, cancellationToken);
        }
    }

    public sealed class NotingSnapshotStore : MemorySnapshotStore
    {
        protected override Task SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken)
        {
            Handed.Enqueue((metadata.PersistenceId, snapshot.GetType().Name, ProtocolSerializer.HasBytes(snapshot)));
            return base.SaveAsync(metadata, snapshot, cancellationToken);
        }
    }

    private static ActorSystem Start() => ActorSystem.Create("journaled-through", ConfigurationFactory.ParseString($$"""
            akka.loglevel = WARNING
            akka.stdout-loglevel = OFF
            akka.remote.dot-netty.tcp.hostname = {{AddressBlocks.Of(215).Host(0, 2)}}
            akka.remote.dot-netty.tcp.port = 0
            akka.persistence.journal.plugin = "akka.persistence.journal.noting"
            akka.persistence.journal.noting.class = "{{typeof(NotingJournal).AssemblyQualifiedName}}"
            akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.noting"
            akka.persistence.snapshot-store.noting.class = "{{typeof(NotingSnapshotStore).AssemblyQualifiedName}}"
            """).WithFallback(ConfigurationFactory.ParseString(RouterNode.BuiltInHocon())));

    private static List<(string Type, bool Encoded)> HandedFor(string persistenceId) =>
        Handed.Where(h => h.PersistenceId == persistenceId).Select(h => (h.Type, h.Encoded)).ToList();

    [Fact]
    public async Task The_writer_hands_the_journal_its_batches_and_its_checkpoint_already_encoded()
    {
        using var system = Start();
        var cluster = Cluster.Get(system);
        cluster.Join(cluster.SelfAddress);
        await EventuallyAsync(() => Task.FromResult(cluster.SelfMember.Status == MemberStatus.Up), "the one member is up", Wait);
        // A per-host journal: the writer checkpoints after SnapshotEvery batches, the whole configuration in it.
        var writer = system.ActorOf(ConfigWriter.Props(() => null, system.ActorOf(Props.Empty), perHostJournal: true));
        for (var i = 0; i <= ConfigWriter.SnapshotEvery; i++)
        {
            var client = Inbox.Create(system);
            client.Send(writer, new WriteConfig(Decode(Service($"svc-{i}", "journaled", AddressBlocks.Of(215).Host(1, 1 + i))), DateTimeOffset.UtcNow + Wait));
            object answer;
            do answer = await client.ReceiveAsync(Wait); while (answer is WriteJournaled);
            Assert.IsType<ConfigAccepted>(answer);
        }
        await EventuallyAsync(() => Task.FromResult(HandedFor("akkal4-config-writer").Any(h => h.Type == nameof(WriterCheckpoint))), "the writer checkpoints", Wait);

        var handed = HandedFor("akkal4-config-writer");
        Assert.Equal(ConfigWriter.SnapshotEvery + 1, handed.Count(h => h.Type == nameof(BatchCommitted)));
        var notEncoded = handed.Where(h => !h.Encoded).GroupBy(h => h.Type).Select(g => $"{g.Count()} {g.Key}").ToList();
        Assert.True(notEncoded.Count == 0, $"the writer handed the journal {string.Join(", ", notEncoded)} not yet encoded: the plugin encodes them on the pool");
    }

    [Fact]
    public async Task A_route_table_entity_hands_the_journal_its_namespace_already_encoded()
    {
        using var system = Start();
        var ns = "journaled-" + Guid.NewGuid().ToString("N")[..8];
        var entity = system.ActorOf(Props.Create(() => new RouteTable(ns)));
        var resources = Decode(Enumerable.Range(0, 300).Select(i => Service($"svc-{i}", ns, "None")).ToArray());
        var stored = await entity.Ask<NamespaceStored>(new StoreNamespace(ns, 7, resources, ModelJson.Hash(resources)), Wait);
        Assert.Equal(7, stored.Revision);

        var handed = Assert.Single(HandedFor(RouteTable.PersistenceIdOf(ns)));
        Assert.Equal(nameof(NamespaceWritten), handed.Type);
        Assert.True(handed.Encoded, "the entity handed the journal its namespace not yet encoded: the plugin encodes it on the pool");
    }
}
