using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Data.Common;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.Serialization;
using Akka.Util;

namespace AkkaL4.Actors.ControlPlane.Journal;

/// <summary>
/// An Akka.Persistence journal over plain ADO.NET that reads and writes Akka.Persistence.Sql's own tables (default table
/// mapping, tags in the <c>tags</c> table, a <c>writer_uuid</c> column), row for row as that plugin does: the payload's
/// serializer id in <c>identifier</c>, its manifest (a string manifest, or the type's name for a serializer that wants one) in
/// <c>manifest</c>, <c>created</c> in ticks. A deletion marks the rows and removes all but the highest marked one, so the highest
/// sequence number survives it. Without Akka.Persistence.Sql's stack (linq2db, LanguageExt...): issue #15.
/// </summary>
public sealed class LightJournal : AsyncWriteJournal
{
    private readonly JournalDatabase _database;
    private readonly Akka.Serialization.Serialization _serialization;
    private readonly string _writerUuid = Guid.NewGuid().ToString("N");
    // Writes not yet finished, by persistence id: the highest sequence number is read after them (as Akka.Persistence.Sql does).
    private readonly ConcurrentDictionary<string, Task> _writing = new();
    private readonly JournalDatabase.Tables _tables;

    public LightJournal(Akka.Configuration.Config config)
    {
        _database = new JournalDatabase(config);
        _tables = new JournalDatabase.Tables(_database, _database.Postgres ? JournalDdl.Postgres : JournalDdl.Sqlite, "journal", Context.GetLogger(), "light journal");
        _serialization = Context.System.Serialization;
    }

    private sealed record Row(string PersistenceId, long SequenceNr, byte[] Message, string Manifest, int Identifier, long Created, string[] Tags);

    protected override Task<IImmutableList<Exception?>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        // Encoded here, on the journal's thread; one write whose payload does not encode is rejected, the others go on.
        var now = DateTime.UtcNow.Ticks;
        var rows = new List<Row>();
        var rejections = new List<Exception?>();
        var persistenceIds = new HashSet<string>();
        foreach (var write in messages)
        {
            persistenceIds.Add(write.PersistenceId);
            try
            {
                var encoded = ((IImmutableList<IPersistentRepresentation>)write.Payload).Select(p => Encode(p, now)).ToList();
                rows.AddRange(encoded);
                rejections.Add(null);
            }
            catch (Exception e)
            {
                rejections.Add(e);
            }
        }
        var written = WriteAsync(rows, rejections, cancellationToken);
        // Akka sends one actor's writes per call; every id is tracked all the same, so that none reads its highest too early.
        foreach (var persistenceId in persistenceIds) Track(persistenceId, written);
        return written;
    }

    private void Track(string persistenceId, Task written)
    {
        _writing[persistenceId] = written;
        written.ContinueWith(_ => _writing.TryRemove(new KeyValuePair<string, Task>(persistenceId, written)), TaskScheduler.Default);
    }

    private Row Encode(IPersistentRepresentation persistent, long now)
    {
        var (payload, tags) = persistent.Payload is Tagged tagged ? (tagged.Payload, tagged.Tags.ToArray()) : (persistent.Payload, []);
        var (message, manifest, identifier) = Encode(_serialization, payload);
        return new Row(persistent.PersistenceId, persistent.SequenceNr, message, manifest, identifier,
            persistent.Timestamp == 0 ? now : persistent.Timestamp, tags);
    }

    /// <summary>A payload's bytes, manifest and serializer id, as Akka.Persistence.Sql writes them (journal and snapshot alike).</summary>
    internal static (byte[] Bytes, string Manifest, int SerializerId) Encode(Akka.Serialization.Serialization serialization, object payload)
    {
        var serializer = serialization.FindSerializerForType(payload.GetType());
        var manifest = serializer switch
        {
            SerializerWithStringManifest withManifest => withManifest.Manifest(payload),
            { IncludeManifest: true } => payload.GetType().TypeQualifiedName(),
            _ => "",
        };
        var bytes = Akka.Serialization.Serialization.WithTransport(serialization.System, (serializer, payload), s => s.serializer.ToBinary(s.payload));
        return (bytes, manifest, serializer.Identifier);
    }

    /// <summary>A payload from its row: by serializer id, or (a row without one) by the type its manifest names.</summary>
    internal static object Decode(Akka.Serialization.Serialization serialization, byte[] bytes, string manifest, int? serializerId)
    {
        if (serializerId is { } id) return serialization.Deserialize(bytes, id, manifest);
        var type = Type.GetType(manifest, throwOnError: true)!;
        return serialization.FindSerializerForType(type).FromBinary(bytes, type);
    }

    private async Task<IImmutableList<Exception?>> WriteAsync(List<Row> rows, List<Exception?> rejections, CancellationToken cancellationToken)
    {
        // All of the call's rows in one transaction: an atomic write is never half there.
        await using var lease = await _tables.OpenAsync(cancellationToken);
        var connection = lease.Connection;
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var row in rows)
        {
            await using var insert = JournalDatabase.Command(connection, transaction,
                "INSERT INTO journal (deleted, persistence_id, sequence_number, message, manifest, identifier, created, writer_uuid) " +
                "VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7) RETURNING ordering",
                false, row.PersistenceId, row.SequenceNr, row.Message, row.Manifest, row.Identifier, row.Created, _writerUuid);
            var ordering = Convert.ToInt64(await insert.ExecuteScalarAsync(cancellationToken));
            foreach (var tag in row.Tags)
            {
                await using var tagged = JournalDatabase.Command(connection, transaction,
                    "INSERT INTO tags (ordering_id, tag, persistence_id, sequence_nr) VALUES (@p0, @p1, @p2, @p3)",
                    ordering, tag, row.PersistenceId, row.SequenceNr);
                await tagged.ExecuteNonQueryAsync(cancellationToken);
            }
        }
        await transaction.CommitAsync(cancellationToken);
        return rejections.ToImmutableList();
    }

    public override async Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr, long toSequenceNr, long max,
        Action<IPersistentRepresentation> recoveryCallback)
    {
        await _tables.EnsureAsync();
        if (max <= 0) return;
        await using var lease = await _database.OpenAsync();
        var connection = lease.Connection;
        await using var select = JournalDatabase.Command(connection, null,
            "SELECT sequence_number, message, manifest, identifier, created, writer_uuid FROM journal " +
            "WHERE persistence_id = @p0 AND sequence_number >= @p1 AND sequence_number <= @p2 AND deleted = @p3 ORDER BY sequence_number LIMIT @p4",
            persistenceId, fromSequenceNr, toSequenceNr, false, max);
        await using var reader = await select.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var payload = Decode(_serialization, (byte[])reader.GetValue(1), reader.IsDBNull(2) ? "" : reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetInt32(3));
            recoveryCallback(new Persistent(payload, reader.GetInt64(0), persistenceId, reader.IsDBNull(2) ? "" : reader.GetString(2), false,
                ActorRefs.NoSender, reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetInt64(4)));
        }
    }

    public override async Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken)
    {
        if (_writing.TryGetValue(persistenceId, out var writing))
            await writing.ContinueWith(_ => { }, TaskScheduler.Default);
        await using var lease = await _tables.OpenAsync(cancellationToken);
        var connection = lease.Connection;
        // Deleted rows count: a deletion keeps its highest row, marked, for this.
        await using var select = JournalDatabase.Command(connection, null,
            "SELECT MAX(sequence_number) FROM journal WHERE persistence_id = @p0 AND sequence_number > @p1", persistenceId, fromSequenceNr);
        return await select.ExecuteScalarAsync(cancellationToken) is { } highest and not DBNull ? Convert.ToInt64(highest) : 0;
    }

    protected override async Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr, CancellationToken cancellationToken)
    {
        await using var lease = await _tables.OpenAsync(cancellationToken);
        var connection = lease.Connection;
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await Execute(connection, transaction, cancellationToken, "UPDATE journal SET deleted = @p2 WHERE persistence_id = @p0 AND sequence_number <= @p1",
            persistenceId, toSequenceNr, true);
        long highestMarked;
        await using (var marked = JournalDatabase.Command(connection, transaction,
                         "SELECT MAX(sequence_number) FROM journal WHERE persistence_id = @p0 AND deleted = @p1", persistenceId, true))
            highestMarked = await marked.ExecuteScalarAsync(cancellationToken) is { } value and not DBNull ? Convert.ToInt64(value) : 0;
        await Execute(connection, transaction, cancellationToken,
            "DELETE FROM journal WHERE persistence_id = @p0 AND sequence_number <= @p1 AND sequence_number < @p2",
            persistenceId, toSequenceNr, highestMarked);
        // The kept row keeps its tags, as Akka.Persistence.Sql 1.5.73 leaves them.
        await Execute(connection, transaction, cancellationToken, "DELETE FROM tags WHERE persistence_id = @p0 AND sequence_nr <= @p1 AND sequence_nr < @p2",
            persistenceId, toSequenceNr, highestMarked);
        await transaction.CommitAsync(cancellationToken);
    }

    internal static async Task Execute(DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken, string sql, params object?[] arguments)
    {
        await using var command = JournalDatabase.Command(connection, transaction, sql, arguments);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
