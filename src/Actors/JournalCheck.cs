using System.Runtime.CompilerServices;
using Akka.Event;
using Npgsql;

namespace AkkaL4.Actors;

/// <summary>
/// A node's PostgreSQL journal, checked at start: the journal stack loads only on the node that hosts the config writer
/// (or a RouteTable entity), so a follower with a wrong connection string, host or password would learn it at failover,
/// when it is the writer. The string is parsed, then a connection is tried in the background with a short timeout, again
/// every <see cref="Retry"/> until one opens. A problem is logged and shown (<c>/v1/status</c>, <c>/readyz</c>), never
/// fatal: the data plane does not depend on the control plane.
/// </summary>
public sealed class JournalCheck
{
    /// <summary>How long one connection attempt may take.</summary>
    internal static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);
    /// <summary>How soon a failed check is tried again.</summary>
    internal static readonly TimeSpan Retry = TimeSpan.FromSeconds(30);

    private volatile string? _problem;
    private volatile bool _connected;

    private JournalCheck(string where) => Where = where;

    /// <summary>The journal as a person names it: <c>postgres://user@host:port/database</c> (never the password).</summary>
    public string Where { get; }

    /// <summary>Why this node could not use the journal when it last tried (null: it could, or it has not tried yet).</summary>
    public string? Problem => _problem;

    /// <summary>A connection opened (and was closed again).</summary>
    public bool Connected => _connected;

    /// <summary>What is said of a connection string that does not parse: a fixed text, none of the string's.</summary>
    internal const string Unparsed = "the connection string does not parse (keyword=value pairs separated by ';'; quote a value that holds ';')";

    /// <summary>Checks <paramref name="connectionString"/> until a connection opens or <paramref name="stop"/> completes; null
    /// when there is no PostgreSQL journal to check.</summary>
    public static JournalCheck? Start(string? connectionString, ILoggingAdapter log, Task stop) =>
        connectionString is null ? null : StartPostgres(connectionString, log, stop);

    /// <summary>
    /// Why the connection string's Host names an address a person reads as another (sec19: Npgsql, through .NET's parser,
    /// connects to 127.0.0.8 for <c>Host=127.0.0.010</c>, and sends the journal's password there), or null. Each host of a
    /// multi-host Host (<c>a,b:5433</c>) is judged; host names and socket directories are left to the resolver, and a string
    /// that does not parse to <see cref="Start"/>, which says so. Called only for a PostgreSQL journal: it loads Npgsql.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static string? MisreadHost(string connectionString)
    {
        string? hosts;
        try
        {
            hosts = new NpgsqlConnectionStringBuilder(connectionString).Host;
        }
        catch (Exception)
        {
            return null;
        }
        foreach (var host in (hosts ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            if (Routing.AddressText.Refusal(Routing.AddressText.HostOf(host), "connect to (and send the journal's password to)") is { } misread)
                return $"the journal's connection string (--journal-connection, AKKAL4_JOURNAL_CONNECTION), Host: {misread}";
        return null;
    }

    /// <summary>
    /// Apart from <see cref="Start"/>, and never inlined into it: compiling a method that names Npgsql's types loads Npgsql,
    /// System.Data.Common and System.ComponentModel.TypeConverter, which a node without a PostgreSQL journal never needs
    /// (bench/README.md, "Memory, session 12").
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static JournalCheck StartPostgres(string connectionString, ILoggingAdapter log, Task stop)
    {
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception)
        {
            // Never Npgsql's message: it names the "keyword" it could not set, which is a password's tail when the password
            // holds an unquoted ';' (and the problem is logged, in /v1/status and, as "cannot be used", in /readyz).
            var check = new JournalCheck("postgres (unparsed)") { _problem = Unparsed };
            log.Warning("journal: {0}; this node routes on, but cannot be the config writer until it is corrected (--journal-connection or AKKAL4_JOURNAL_CONNECTION)", check._problem);
            return check;
        }
        var where = $"postgres://{builder.Username ?? "(no user)"}@{builder.Host ?? "(no host)"}:{builder.Port}/{builder.Database ?? "(default database)"}";
        if (string.IsNullOrEmpty(builder.Host))
        {
            var check = new JournalCheck(where) { _problem = "the connection string names no Host" };
            log.Warning("journal {0}: {1}; this node routes on, but cannot be the config writer until it is corrected", where, check._problem);
            return check;
        }
        // A connection of its own, not kept in a pool: the check holds nothing open once done.
        builder.Pooling = false;
        builder.Timeout = (int)ConnectTimeout.TotalSeconds;
        var checker = new JournalCheck(where);
        // Off the caller's path (a node's start): opening a connection sets up Npgsql's data source before its first await.
        var connection = builder.ConnectionString;
        _ = Task.Run(() => checker.RunAsync(connection, log, stop));
        return checker;
    }

    private async Task RunAsync(string connectionString, ILoggingAdapter log, Task stop)
    {
        while (!stop.IsCompleted)
        {
            var problem = await TryConnectAsync(connectionString);
            if (problem is null)
            {
                var recovered = _problem is not null;
                _problem = null;
                _connected = true;
                if (recovered) log.Info("journal {0}: connected; this node can be the config writer", Where);
                return;
            }
            if (problem != _problem)
                log.Warning("journal {0}: cannot connect: {1}; this node routes on, but cannot be the config writer until it can "
                            + "(trying again every {2}s; --journal-connection or AKKAL4_JOURNAL_CONNECTION)", Where, problem, Retry.TotalSeconds);
            _problem = problem;
            await Task.WhenAny(Task.Delay(Retry), stop);
        }
    }

    private static async Task<string?> TryConnectAsync(string connectionString)
    {
        try
        {
            await using var connection = new NpgsqlConnection(connectionString);
            using var timeout = new CancellationTokenSource(ConnectTimeout + TimeSpan.FromSeconds(1));
            await connection.OpenAsync(timeout.Token);
            return null;
        }
        catch (Exception e)
        {
            return Reason(e);
        }
    }

    /// <summary>The server's words (wrong password, no such database), else the innermost cause (refused, timed out).</summary>
    private static string Reason(Exception e) => e switch
    {
        PostgresException pg => $"{pg.MessageText} ({pg.SqlState})",
        OperationCanceledException or TimeoutException => $"no answer within {ConnectTimeout.TotalSeconds:0}s",
        NpgsqlException { InnerException: TimeoutException } => $"no answer within {ConnectTimeout.TotalSeconds:0}s",
        { InnerException: { } inner } when inner is not PostgresException => $"{e.Message} ({inner.Message})",
        { InnerException: PostgresException inner } => Reason(inner),
        _ => e.Message,
    };
}
