using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Snapshot;

namespace AkkaL4.Actors.ControlPlane.Journal;

/// <summary>
/// An Akka.Persistence snapshot store over plain ADO.NET on Akka.Persistence.Sql's <c>snapshot</c> table (default table mapping):
/// the snapshot's serializer id, manifest and bytes as that plugin writes them, <c>created</c> in ticks; a save replaces the
/// snapshot of the same persistence id and sequence number. See <see cref="LightJournal"/>.
/// </summary>
public sealed class LightSnapshotStore : SnapshotStore
{
    private readonly JournalDatabase _database;
    private readonly Akka.Serialization.Serialization _serialization;
    private readonly JournalDatabase.Tables _tables;

    public LightSnapshotStore(Akka.Configuration.Config config)
    {
        _database = new JournalDatabase(config);
        _tables = new JournalDatabase.Tables(_database, _database.Postgres ? JournalDdl.PostgresSnapshot : JournalDdl.SqliteSnapshot, "snapshot", Context.GetLogger(), "light snapshot store");
        _serialization = Context.System.Serialization;
    }

    protected override async Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        await using var lease = await _tables.OpenAsync(cancellationToken);
        var connection = lease.Connection;
        await using var select = JournalDatabase.Command(connection, null,
            "SELECT sequence_number, created, snapshot, manifest, serializer_id FROM snapshot " +
            "WHERE persistence_id = @p0 AND sequence_number <= @p1 AND created <= @p2 AND sequence_number >= @p3 AND created >= @p4 " +
            "ORDER BY sequence_number DESC LIMIT 1",
            persistenceId, criteria.MaxSequenceNr, criteria.MaxTimeStamp.Ticks, criteria.MinSequenceNr, criteria.MinTimestamp?.Ticks ?? 0L);
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return null;
        var snapshot = LightJournal.Decode(_serialization, (byte[])reader.GetValue(2), reader.IsDBNull(3) ? "" : reader.GetString(3),
            reader.IsDBNull(4) ? null : reader.GetInt32(4));
        return new SelectedSnapshot(new SnapshotMetadata(persistenceId, reader.GetInt64(0), new DateTime(reader.GetInt64(1))), snapshot);
    }

    protected override async Task SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken)
    {
        var (bytes, manifest, serializerId) = LightJournal.Encode(_serialization, snapshot);
        await using var lease = await _tables.OpenAsync(cancellationToken);
        var connection = lease.Connection;
        await LightJournal.Execute(connection, null, cancellationToken, _database.Postgres
                ? "INSERT INTO snapshot (persistence_id, sequence_number, created, snapshot, manifest, serializer_id) VALUES (@p0, @p1, @p2, @p3, @p4, @p5) " +
                  "ON CONFLICT (persistence_id, sequence_number) DO UPDATE SET created = excluded.created, snapshot = excluded.snapshot, " +
                  "manifest = excluded.manifest, serializer_id = excluded.serializer_id"
                : "INSERT OR REPLACE INTO snapshot (persistence_id, sequence_number, created, snapshot, manifest, serializer_id) VALUES (@p0, @p1, @p2, @p3, @p4, @p5)",
            metadata.PersistenceId, metadata.SequenceNr, metadata.Timestamp.Ticks, bytes, manifest, serializerId);
    }

    protected override async Task DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken)
    {
        await using var lease = await _tables.OpenAsync(cancellationToken);
        var connection = lease.Connection;
        // As Akka.Persistence.Sql: the timestamp bounds the deletion only when the metadata has one.
        await LightJournal.Execute(connection, null, cancellationToken,
            "DELETE FROM snapshot WHERE persistence_id = @p0 AND sequence_number = @p1 AND created <= @p2",
            metadata.PersistenceId, metadata.SequenceNr, metadata.Timestamp > DateTime.MinValue ? metadata.Timestamp.Ticks : DateTime.MaxValue.Ticks);
    }

    protected override async Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        await using var lease = await _tables.OpenAsync(cancellationToken);
        var connection = lease.Connection;
        await LightJournal.Execute(connection, null, cancellationToken,
            "DELETE FROM snapshot WHERE persistence_id = @p0 AND sequence_number <= @p1 AND created <= @p2 AND sequence_number >= @p3 AND created >= @p4",
            persistenceId, criteria.MaxSequenceNr, criteria.MaxTimeStamp.Ticks, criteria.MinSequenceNr, criteria.MinTimestamp?.Ticks ?? 0L);
    }
}
