// From review2-s12 #1: while ONE namespace's RouteTable entity never confirms (the writer's "reported" outbox entry), an
// acknowledged write stays readable: GET /v1/config (ConfigReader with no namespace: akkal4 get -A, diff, apply's warnings
// baseline) and the namespace itself are answered, the silent one from the writer's store after the entity's patience.
using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using AkkaL4.Actors;
using AkkaL4.Actors.Config;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Queries;
using AkkaL4.Messages.Serialization;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>Addresses: 127.181.100.x (127.206.100.x: the memory of a silent entity, write13 landed by rel15).</summary>
[Trait("Category", "EndToEnd")]
public class SilentEntityReadTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private sealed class Tables
    {
        public readonly ConcurrentDictionary<string, StoreNamespace> Held = new(StringComparer.Ordinal);
        public const string Silent = "rv-silent";

        /// <summary>How many times the writer sent <see cref="Silent"/>'s content.</summary>
        public int SilentSends;
    }

    /// <summary>Answered with <see cref="Tables.SilentSends"/>, after every message sent to the fake before it.</summary>
    private sealed record CountSends;

    /// <summary>Entities that confirm and hold everything except <see cref="Tables.Silent"/>'s (one that cannot read what it is sent).</summary>
    private sealed class FakeRouteTables : ReceiveActor
    {
        public FakeRouteTables(Tables tables)
        {
            Receive<StoreNamespace>(s =>
            {
                if (s.Namespace == Tables.Silent)
                {
                    tables.SilentSends++;
                    return;
                }
                tables.Held[s.Namespace] = s;
                Sender.Tell(new NamespaceStored(s.Namespace, s.Revision, s.Hash));
            });
            Receive<ReadNamespace>(r =>
            {
                var held = tables.Held.GetValueOrDefault(r.Namespace);
                Sender.Tell(new NamespaceContent(r.Namespace, held?.Revision ?? 0, held?.Resources ?? [], held?.Hash ?? ModelJson.Hash([])));
            });
            Receive<CountSends>(_ => Sender.Tell(tables.SilentSends));
        }
    }

    private static async Task<ActorSystem> StartSystemAsync(string data)
    {
        var connection = $"\"Data Source={Path.Combine(data, "journal.db")}\"";
        var config = ConfigurationFactory.ParseString($$"""
                akka.loglevel = WARNING
                akka.remote.dot-netty.tcp.hostname = 127.181.100.1
                akka.remote.dot-netty.tcp.port = 0
                akka.persistence.journal.sql { provider-name = "SQLite.MS", connection-string = {{connection}} }
                akka.persistence.snapshot-store.sql { provider-name = "SQLite.MS", connection-string = {{connection}} }
                """)
            .WithFallback(ConfigurationFactory.ParseString(RouterNode.BuiltInHocon()))
            .WithFallback(Akka.Persistence.Sql.SqlPersistence.DefaultConfiguration);
        var system = ActorSystem.Create("silent-entity-read", config);
        var cluster = Cluster.Get(system);
        cluster.Join(cluster.SelfAddress);
        await EventuallyAsync(() => Task.FromResult(cluster.SelfMember.Status == MemberStatus.Up), "the one member is up", Wait);
        return system;
    }

    private static async Task<object> WriteWhenReadyAsync(IActorRef writer, ActorSystem system, params string[] documents)
    {
        for (var deadline = DateTime.UtcNow + Wait; ; await Task.Delay(200))
        {
            var inbox = Inbox.Create(system);
            inbox.Send(writer, new WriteConfig(Decode(documents), DateTimeOffset.UtcNow + Wait));
            object answer;
            do answer = await inbox.ReceiveAsync(Wait); while (answer is WriteJournaled);
            if (answer is not ConfigUnavailable || DateTime.UtcNow > deadline) return answer;
        }
    }

    private static async Task<object> ReadAsync(ActorSystem system, IActorRef writer, IActorRef routeTables, string? ns, SilentEntities? silent = null)
    {
        var inbox = Inbox.Create(system);
        system.ActorOf(ConfigReader.Props(writer, routeTables, new ReadConfig(Namespace: ns), inbox.Receiver, silent));
        try { return await inbox.ReceiveAsync(Wait); }
        catch (ConfigNotReadableException e) { return e; }
    }

    [Fact]
    public async Task An_acknowledged_write_stays_readable_while_another_namespaces_entity_never_confirms()
    {
        var data = TempDirectory();
        try
        {
            using var system = await StartSystemAsync(data);
            var tables = new Tables();
            var routeTables = system.ActorOf(Props.Create(() => new FakeRouteTables(tables)));
            var writer = system.ActorOf(ConfigWriter.Props(() => null, routeTables, false));
            Assert.IsType<ConfigAccepted>(await WriteWhenReadyAsync(writer, system, Service("a", "rv-other", "127.181.100.2")));
            var silentRevision = Assert.IsType<ConfigAccepted>(await WriteWhenReadyAsync(writer, system, Service("b", Tables.Silent, "127.181.100.3"))).Revision;
            Assert.Equal(silentRevision, (await writer.Ask<ConfigIndex>(ReadIndex.Instance, Wait)).Revision);

            // The whole configuration (GET /v1/config, akkal4 get all -A, diff, apply's stored warnings): both namespaces.
            var whole = await ReadAsync(system, writer, routeTables, null);
            var content = Assert.IsType<ConfigContent>(whole);
            Assert.Equal(["Service/rv-other/a", "Service/rv-silent/b"], content.Resources.Select(r => r.Key.ToString()).Order(StringComparer.Ordinal));

            // The namespace written and acknowledged: readable (its content is in the writer's store and journal).
            var one = await ReadAsync(system, writer, routeTables, Tables.Silent);
            Assert.Equal("Service/rv-silent/b", Assert.Single(Assert.IsType<ConfigContent>(one).Resources).Key.ToString());
            await system.Terminate();
        }
        finally
        {
            DeleteDirectory(data);
        }
    }

    [Fact]
    public async Task Once_a_read_found_an_entity_silent_the_next_reads_ask_the_writer_at_once()
    {
        var data = TempDirectory();
        try
        {
            using var system = await StartSystemAsync(data);
            var tables = new Tables();
            var routeTables = system.ActorOf(Props.Create(() => new FakeRouteTables(tables)));
            var writer = system.ActorOf(ConfigWriter.Props(() => null, routeTables, false));
            Assert.IsType<ConfigAccepted>(await WriteWhenReadyAsync(writer, system, Service("a", "rv-other", "127.206.100.2")));
            Assert.IsType<ConfigAccepted>(await WriteWhenReadyAsync(writer, system, Service("b", Tables.Silent, "127.206.100.3")));
            var silent = new SilentEntities(TimeSpan.FromMinutes(1));
            string[] both = ["Service/rv-other/a", "Service/rv-silent/b"];

            // The first read waits its patience for the silent entity, then reads its namespace from the writer.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var first = Assert.IsType<ConfigContent>(await ReadAsync(system, writer, routeTables, null, silent));
            var waited = clock.Elapsed;
            Assert.Equal(both, first.Resources.Select(r => r.Key.ToString()).Order(StringComparer.Ordinal));
            Assert.True(waited >= ConfigReader.EntityPatience, $"the first read took {waited}");

            // The next ones (get -A, diff, apply's baseline) do not wait for it again: answered within the patience.
            for (var i = 0; i < 2; i++)
            {
                clock.Restart();
                var next = Assert.IsType<ConfigContent>(await ReadAsync(system, writer, routeTables, null, silent));
                Assert.Equal(both, next.Resources.Select(r => r.Key.ToString()).Order(StringComparer.Ordinal));
                // Without the memory each waits the patience again (its timer): under it is enough, on a machine at any load.
                Assert.True(clock.Elapsed < ConfigReader.EntityPatience, $"read {i + 2} took {clock.Elapsed} (the first {waited})");
            }
            await system.Terminate();
        }
        finally
        {
            DeleteDirectory(data);
        }
    }

    [Fact]
    public async Task A_read_does_not_make_the_writer_resend_a_namespace_it_reported()
    {
        var data = TempDirectory();
        try
        {
            using var system = await StartSystemAsync(data);
            var tables = new Tables();
            var routeTables = system.ActorOf(Props.Create(() => new FakeRouteTables(tables)));
            // Reported after 2 sends, then sent only every 10 minutes: no resend of its own pacing falls inside this test.
            var pacing = new ConfigWriter.OutboxPacing(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100), 2, TimeSpan.FromMinutes(10));
            var writer = system.ActorOf(ConfigWriter.Props(() => null, routeTables, false, null, pacing));
            Assert.IsType<ConfigAccepted>(await WriteWhenReadyAsync(writer, system, Service("b", Tables.Silent, "127.181.100.3")));
            await EventuallyAsync(async () => (await writer.Ask<WriterStatus>(ReadWriterStatus.Instance, Wait)).Reason?.Contains(Tables.Silent) == true,
                "the writer reports the silent namespace", Wait);
            var before = await routeTables.Ask<int>(new CountSends(), Wait);

            // The read finds the entity behind (which asks the writer to send it again) and is answered from the writer.
            var one = await ReadAsync(system, writer, routeTables, Tables.Silent);
            Assert.Equal("Service/rv-silent/b", Assert.Single(Assert.IsType<ConfigContent>(one).Resources).Key.ToString());
            // Whatever the writer sent before answering is in the fake's mailbox ahead of this question.
            Assert.Equal(before, await routeTables.Ask<int>(new CountSends(), Wait));
            await system.Terminate();
        }
        finally
        {
            DeleteDirectory(data);
        }
    }
}
