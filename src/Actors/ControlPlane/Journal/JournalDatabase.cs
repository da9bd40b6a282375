using System.Data.Common;
using System.Runtime.CompilerServices;
using Akka.Configuration;
using Akka.Event;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace AkkaL4.Actors.ControlPlane.Journal;

/// <summary>
/// The database of <see cref="LightJournal"/> and <see cref="LightSnapshotStore"/>: SQLite or PostgreSQL, named by the same
/// <c>provider-name</c> and <c>connection-string</c> as Akka.Persistence.Sql's settings, and the tables that plugin makes with
/// its default table mapping (<c>journal</c>, <c>tags</c>, <c>snapshot</c>), so a journal written by either is read by the other.
/// Each call opens a connection (both providers pool them) and closes it; at most <see cref="MaxConnectionsKey"/> at once.
/// </summary>
internal sealed class JournalDatabase
{
    /// <summary>
    /// The plugin's setting for how many connections it has open at once (default <see cref="DefaultMaxConnections"/>).
    /// Akka calls a journal again without waiting for its last call, and the config writer's write makes every RouteTable
    /// entity of every node it changes write at once: one connection each took a shared PostgreSQL past its
    /// max_connections (100) with two nodes of 200 entities ("sorry, too many clients already", those writes failed;
    /// Akka.Persistence.Sql queues its writes, 3 at a time). The rest wait for a connection in turn.
    /// </summary>
    public const string MaxConnectionsKey = "max-connections";
    public const int DefaultMaxConnections = 4;

    private readonly string _connectionString;
    private readonly SemaphoreSlim _connections;

    public JournalDatabase(Akka.Configuration.Config config)
    {
        var provider = config.GetString("provider-name", "") ?? "";
        _connectionString = config.GetString("connection-string", "") ?? "";
        if (provider.StartsWith("PostgreSQL", StringComparison.OrdinalIgnoreCase)) Postgres = true;
        else if (!provider.Contains("SQLite", StringComparison.OrdinalIgnoreCase))
            throw new ConfigurationException($"the light journal knows the providers SQLite (SQLite.MS) and PostgreSQL (PostgreSQL.15), not '{provider}'");
        var max = MaxConnections(config);
        _connections = new SemaphoreSlim(max, max);
    }

    /// <summary>The plugin's <see cref="MaxConnectionsKey"/>, at least 1.</summary>
    public static int MaxConnections(Akka.Configuration.Config config)
    {
        int max;
        try
        {
            max = config.GetInt(MaxConnectionsKey, DefaultMaxConnections);
        }
        catch (Exception e) when (e is FormatException or OverflowException or ConfigurationException)
        {
            throw new ConfigurationException($"{MaxConnectionsKey}: {e.Message}");
        }
        return max >= 1 ? max : throw new ConfigurationException($"{MaxConnectionsKey} = {max}: must be at least 1");
    }

    /// <summary>PostgreSQL; otherwise SQLite.</summary>
    public bool Postgres { get; }

    /// <summary>
    /// A connection, once one of the plugin's <see cref="MaxConnectionsKey"/> is free; disposing the lease closes it and frees
    /// its place. A caller holds one lease at a time (operations open theirs through <see cref="Tables.OpenAsync"/>, after the
    /// tables are made), so no call waits for a place while it holds one.
    /// </summary>
    public async Task<Lease> OpenAsync(CancellationToken cancellationToken = default)
    {
        await _connections.WaitAsync(cancellationToken);
        DbConnection? connection = null;
        try
        {
            connection = Postgres ? NewPostgres(_connectionString) : NewSqlite(_connectionString);
            await connection.OpenAsync(cancellationToken);
            return new Lease(connection, _connections);
        }
        catch
        {
            if (connection is not null) await connection.DisposeAsync();
            _connections.Release();
            throw;
        }
    }

    /// <summary>An open connection and its place among the plugin's connections.</summary>
    public sealed class Lease(DbConnection connection, SemaphoreSlim places) : IAsyncDisposable
    {
        private int _disposed;

        public DbConnection Connection { get; } = connection;

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            try
            {
                await Connection.DisposeAsync();
            }
            finally
            {
                places.Release();
            }
        }
    }

    // Apart, never inlined: compiling a method that names Npgsql's types loads Npgsql, which a SQLite node never needs.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DbConnection NewPostgres(string connectionString) => new NpgsqlConnection(connectionString);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DbConnection NewSqlite(string connectionString) => new SqliteConnection(connectionString);

    /// <summary>A command with its arguments bound in order as <c>@p0</c>, <c>@p1</c>...</summary>
    public static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params object?[] arguments)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        for (var i = 0; i < arguments.Length; i++)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = "@p" + i;
            parameter.Value = arguments[i] ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }
        return command;
    }

    /// <summary>
    /// A plugin's tables, created (if absent) before its first operation. Not fatal when that fails (Akka.Persistence.Sql
    /// restarts its plugin until they are made): a database user without the right to create tables uses the ones there
    /// (<paramref name="table"/> is looked for; found, they are not tried again: each operation tried, and warned, before),
    /// two nodes creating them at once, one fails and uses the other's; when they are not there either, the next operation
    /// tries again, and itself fails.
    /// </summary>
    public sealed class Tables(JournalDatabase database, string[] ddl, string table, ILoggingAdapter log, string plugin)
    {
        private readonly object _gate = new();
        private Task? _creating;

        public async Task EnsureAsync()
        {
            // Operations may begin after an await, off the actor's thread.
            Task creating;
            lock (_gate)
            {
                if (_creating is null || _creating.IsFaulted || _creating.IsCanceled) _creating = CreateOrFindAsync();
                creating = _creating;
            }
            try
            {
                await creating;
            }
            catch (Exception e)
            {
                log.Warning("{0}: the tables were not created ({1}), and table {2} is not there; tried again at the next operation", plugin, e.Message, table);
            }
        }

        /// <summary>
        /// A connection of the plugin's (<see cref="JournalDatabase.OpenAsync"/>) once the tables are made: made first, so that no
        /// operation holds a connection's place while the tables take one.
        /// </summary>
        public async Task<Lease> OpenAsync(CancellationToken cancellationToken = default)
        {
            await EnsureAsync();
            return await database.OpenAsync(cancellationToken);
        }

        private async Task CreateOrFindAsync()
        {
            try
            {
                await database.CreateAsync(ddl);
            }
            catch (Exception e)
            {
                if (!await database.HasTableAsync(table)) throw;
                log.Warning("{0}: the tables were not created ({1}); the ones there are used", plugin, e.Message);
            }
        }
    }

    /// <summary>Whether <paramref name="table"/> (one of the plugin's fixed names) can be read.</summary>
    public async Task<bool> HasTableAsync(string table)
    {
        try
        {
            await using var lease = await OpenAsync();
            await using var probe = Command(lease.Connection, null, $"SELECT 1 FROM {table} WHERE 1 = 0");
            await probe.ExecuteNonQueryAsync();
            return true;
        }
        catch (DbException)
        {
            return false;
        }
    }

    /// <summary>Runs each statement of <paramref name="ddl"/> (they create only what is absent).</summary>
    public async Task CreateAsync(string[] ddl)
    {
        await using var lease = await OpenAsync();
        var connection = lease.Connection;
        foreach (var statement in ddl)
        {
            await using var command = Command(connection, null, statement);
            await command.ExecuteNonQueryAsync();
        }
    }
}
