using Akka.Actor;
using AkkaL4.Actors;
using AkkaL4.Actors.Config;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Tests.Support;
using AkkaL4.Messages.Commands;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>The config writer's journal in a real PostgreSQL shared by nodes on different hosts.</summary>
[Trait("Category", "Postgres")]
public class PostgresJournalTests(PostgresServer postgres) : IClassFixture<PostgresServer>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_node_on_another_host_with_nothing_on_its_disk_recovers_the_writes_from_the_shared_journal()
    {
        var hostA = Path.Combine(Path.GetTempPath(), "akkal4-host-a-" + Guid.NewGuid().ToString("N"));
        var hostB = Path.Combine(Path.GetTempPath(), "akkal4-host-b-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using (var a = RouterNode.Start(new RouterNodeOptions { Name = "pg-a", DataDirectory = hostA, PostgresJournal = postgres.ConnectionString, Overrides = "akka.loglevel = WARNING" }))
            {
                Assert.Equal(1, (await WriteConfigAsync(a, Service("pg-one", "127.4.3.1"), Patience)).Revision);
                Assert.Equal(2, (await WriteConfigAsync(a, Service("pg-two", "127.4.3.2"), Patience)).Revision);
            }

            // The whole cluster is gone; a node on another host, with an empty disk, starts a new one.
            await using var b = RouterNode.Start(new RouterNodeOptions { Name = "pg-b", DataDirectory = hostB, PostgresJournal = postgres.ConnectionString, Overrides = "akka.loglevel = WARNING" });
            Assert.True(await b.WaitForRevisionAsync(2, Patience), "revision 2 comes back from the shared journal");
            Assert.Equal(["127.4.3.1:19000", "127.4.3.2:19000"], b.Routes.Current.Listeners.Select(l => l.Address.ToString()).Order().ToArray());
            Assert.False(File.Exists(Path.Combine(hostB, "journal.db")), "host B's journal is PostgreSQL, not a local file");
            Assert.Equal(3, (await WriteConfigAsync(b, Service("pg-three", "127.4.3.3"), Patience)).Revision);
        }
        finally
        {
            foreach (var dir in new[] { hostA, hostB })
                if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
