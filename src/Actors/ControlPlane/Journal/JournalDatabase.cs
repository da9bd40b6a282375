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
/// Each call opens a connection (both providers pool them) and closes it.
/// </summary>
internal sealed class JournalDatabase
{
    private readonly string _connectionString;

    public JournalDatabase(Akka.Configuration.Config config)
    {
        var provider = config.GetString("provider-name", "") ?? "";
        _connectionString = config.GetString("connection-string", "") ?? "";
        if (provider.StartsWith("PostgreSQL", StringComparison.OrdinalIgnoreCase)) Postgres = true;
        else if (!provider.Contains("SQLite", StringComparison.OrdinalIgnoreCase))
            throw new ConfigurationException($"the light journal knows the providers SQLite (SQLite.MS) and PostgreSQL (PostgreSQL.15), not '{provider}'");
    }

    /// <summary>PostgreSQL; otherwise SQLite.</summary>
    public bool Postgres { get; }

    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken = default)
    {
        var connection = Postgres ? NewPostgres(_connectionString) : NewSqlite(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
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
    /// A plugin's tables, created (if absent) before its first operation; a failed attempt is made again by the next. Not
    /// fatal (Akka.Persistence.Sql restarts its plugin until they are made): a database user without the right to create
    /// tables can still use the ones there, and the operation itself fails if they are not; two nodes creating them at
    /// once, one fails and uses the other's.
    /// </summary>
    public sealed class Tables(JournalDatabase database, string[] ddl, ILoggingAdapter log, string plugin)
    {
        private readonly object _gate = new();
        private Task? _creating;

        public async Task EnsureAsync()
        {
            // Operations may begin after an await, off the actor's thread.
            Task creating;
            lock (_gate)
            {
                if (_creating is null || _creating.IsFaulted || _creating.IsCanceled) _creating = database.CreateAsync(ddl);
                creating = _creating;
            }
            try
            {
                await creating;
            }
            catch (Exception e)
            {
                log.Warning("{0}: the tables were not created ({1}); using what is there", plugin, e.Message);
            }
        }
    }

    /// <summary>Runs each statement of <paramref name="ddl"/> (they create only what is absent).</summary>
    public async Task CreateAsync(string[] ddl)
    {
        await using var connection = await OpenAsync();
        foreach (var statement in ddl)
        {
            await using var command = Command(connection, null, statement);
            await command.ExecuteNonQueryAsync();
        }
    }
}
