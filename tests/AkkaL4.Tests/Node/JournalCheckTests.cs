using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Collections.Concurrent;
using Akka.Actor;
using AkkaL4.Tests.DataPlane;
using AkkaL4.Actors;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Node;

/// <summary>
/// A follower's PostgreSQL journal checked at start (review s11 #4): the journal stack loads only on the writer's node, so a
/// wrong connection string, host or database was learnt at failover. Now it is logged, and said in /v1/status and /readyz.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class JournalCheckTests : IDisposable
{
    private static readonly AddressBlock Block = AddressBlocks.Of(230);
    private readonly TaskCompletionSource _stop = new();
    private readonly ActorSystem _system = ActorSystem.Create("journal-check", "akka.loglevel = INFO\nakka.stdout-loglevel = OFF\nakka.loggers = []");
    private readonly ConcurrentQueue<string> _warnings = new();

    public JournalCheckTests()
    {
        var tap = _system.ActorOf(Props.Create(() => new EventTap<Akka.Event.Warning>(w => _warnings.Enqueue(w.Message.ToString() ?? ""))));
        _system.EventStream.Subscribe(tap, typeof(Akka.Event.Warning));
    }

    public void Dispose()
    {
        _stop.TrySetResult();
        _system.Terminate().Wait(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_connection_string_that_does_not_parse_is_a_warning_at_once()
    {
        var check = JournalCheck.Start("Hots=db.example;Username=akkal4;Password=hunter2", _system.Log, _stop.Task);

        Assert.NotNull(check);
        // A fixed explanation: Npgsql's message names the "keyword" it could not set, which may be a password's tail.
        Assert.Equal(JournalCheck.Unparsed, check.Problem);
        Assert.DoesNotContain("hots", check.Problem, StringComparison.OrdinalIgnoreCase);
        Assert.False(check.Connected);
        await EventuallyAsync(() => _warnings.Any(w => w.Contains("does not parse", StringComparison.Ordinal)), "the warning is logged");
        Assert.DoesNotContain(_warnings, w => w.Contains("hunter2", StringComparison.Ordinal));
    }

    [Fact]
    public void No_postgres_journal_is_nothing_to_check() => Assert.Null(JournalCheck.Start(null, _system.Log, _stop.Task));

    [Fact]
    public async Task A_host_that_refuses_is_logged_without_the_password()
    {
        var port = UnusedPort(Block.Host(0, 20));
        var check = JournalCheck.Start($"Host={Block.Host(0, 20)};Port={port};Username=akkal4;Password=hunter2;Database=journal", _system.Log, _stop.Task)!;

        await EventuallyAsync(() => check.Problem is not null && !_warnings.IsEmpty, "the check fails and says so");
        Assert.Contains("refused", check.Problem, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(_warnings, w => w.Contains("cannot connect", StringComparison.Ordinal) && w.Contains(check.Where, StringComparison.Ordinal));
        Assert.DoesNotContain(_warnings, w => w.Contains("hunter2", StringComparison.Ordinal));
        Assert.Equal($"postgres://akkal4@{Block.Host(0, 20)}:{port}/journal", check.Where);
        Assert.DoesNotContain("hunter2", check.Problem + check.Where);
    }

    /// <summary>A port on <paramref name="host"/> where nothing listens (bound, then let go).</summary>
    internal static int UnusedPort(string host)
    {
        var listener = new TcpListener(IPAddress.Parse(host), 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}

/// <summary>A node whose journal host refuses: it starts, routes, is ready, and says why it cannot be the writer.</summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class JournalCheckNodeTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(230);
    private static int UnusedPort(string host) => JournalCheckTests.UnusedPort(host);

    [Fact]
    public async Task A_node_with_a_journal_it_cannot_reach_is_ready_and_says_so_in_status_and_readyz()
    {
        var host = Block.Host(0, 21);
        var port = UnusedPort(host);
        await using var node = RouterNode.Start(new RouterNodeOptions
        {
            Name = $"journal-check-{Guid.NewGuid():N}",
            PostgresJournal = $"Host={host};Port={port};Username=ck_user;Password=hunter2;Database=ck_db",
            Overrides = "akka.loglevel = ERROR\nakka.stdout-loglevel = ERROR" + $"\nakka.remote.dot-netty.tcp {{ hostname = \"{Block.Host(0, 22)}\", port = 0 }}",
        });
        node.Apply(ConfigChecked(Manifests.Service("journal-svc", Block.Host(0, 23), 19000, 9000, null, "journal-check")), revision: 1);
        await using var admin = await AdminServer.StartAsync(node, new IPEndPoint(IPAddress.Parse(Block.Host(0, 24)), UnusedPort(Block.Host(0, 24))), "journal-check-token");
        using var http = new HttpClient { BaseAddress = new Uri(admin.Url) };

        await EventuallyAsync(() => node.Journal!.Problem is not null, "the journal check fails", TimeSpan.FromSeconds(30));
        var ready = await http.GetAsync("/readyz");
        var text = await ready.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.StartsWith("ready: ", text);
        Assert.Contains("journal: cannot be used", text);
        Assert.Contains("cannot be the config writer", text);
        // /readyz answers without a token: which journal (user, host, database) and why are said only in /v1/status.
        foreach (var secret in new[] { "ck_user", host, "ck_db", "refused", "hunter2" })
            Assert.DoesNotContain(secret, text, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/v1/status")).StatusCode);
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "journal-check-token");
        using var status = JsonDocument.Parse(await http.GetStringAsync("/v1/status"));
        var journal = status.RootElement.GetProperty("journal");
        Assert.False(journal.GetProperty("connected").GetBoolean());
        Assert.Equal($"postgres://ck_user@{host}:{port}/ck_db", journal.GetProperty("at").GetString());
        Assert.Contains("refused", journal.GetProperty("problem").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("hunter2", text + status.RootElement.GetRawText());
    }

    private static IReadOnlyList<Messages.Model.Resource> ConfigChecked(string manifest)
    {
        var report = Actors.Config.ConfigCheck.Check(manifest);
        Assert.True(report.Ok, string.Join("; ", report.Errors));
        return report.Resources;
    }
}

/// <summary>The same check against a real PostgreSQL: a database that is not there, and one that is.</summary>
[Trait("Category", TestCategories.Postgres)]
public sealed class JournalCheckPostgresTests(PostgresServer postgres) : IClassFixture<PostgresServer>, IDisposable
{
    private readonly TaskCompletionSource _stop = new();
    private readonly ActorSystem _system = ActorSystem.Create("journal-check-pg", "akka.loglevel = ERROR\nakka.stdout-loglevel = OFF");

    public void Dispose()
    {
        _stop.TrySetResult();
        _system.Terminate().Wait(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_database_that_is_not_there_is_the_servers_words_and_a_good_one_connects()
    {
        var wrong = new Npgsql.NpgsqlConnectionStringBuilder(postgres.ConnectionString) { Database = "no_such_journal" }.ConnectionString;

        var bad = JournalCheck.Start(wrong, _system.Log, _stop.Task)!;
        var good = JournalCheck.Start(postgres.ConnectionString, _system.Log, _stop.Task)!;

        await EventuallyAsync(() => bad.Problem is not null, "the wrong database is found out", TimeSpan.FromSeconds(20));
        Assert.Contains("no_such_journal", bad.Problem);
        Assert.Contains("does not exist", bad.Problem);
        await EventuallyAsync(() => good.Connected, "the right one connects", TimeSpan.FromSeconds(20));
        Assert.Null(good.Problem);
    }
}
