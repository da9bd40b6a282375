namespace AkkaL4.Actors.ControlPlane.Journal;

/// <summary>
/// The tables as Akka.Persistence.Sql 1.5.73 creates them (default table mapping, tag table, writer_uuid column), read off
/// the databases it made: SQLite's sqlite_master and PostgreSQL's pg_dump. Each statement creates only what is absent.
/// </summary>
internal static class JournalDdl
{
    public static readonly string[] Sqlite =
    [
        """
        CREATE TABLE IF NOT EXISTS [journal]
        (
        	[ordering]        INTEGER        NOT NULL PRIMARY KEY AUTOINCREMENT,
        	[created]         INTEGER        NOT NULL,
        	[deleted]         Bit            NOT NULL,
        	[persistence_id]  NVarChar(255)  NOT NULL,
        	[sequence_number] INTEGER        NOT NULL,
        	[message]         VarBinary      NOT NULL,
        	[manifest]        NVarChar(500)      NULL,
        	[identifier]      INTEGER            NULL,
        	[writer_uuid]     NVarChar(128)      NULL
        )
        """,
        "CREATE UNIQUE INDEX IF NOT EXISTS journal_uq ON journal (persistence_id, sequence_number)",
        "CREATE INDEX IF NOT EXISTS journal_created_idx ON journal (created)",
        "CREATE INDEX IF NOT EXISTS journal_sequence_number_idx ON journal (sequence_number)",
        """
        CREATE TABLE IF NOT EXISTS [tags]
        (
        	[ordering_id]    INTEGER       NOT NULL,
        	[tag]            NVarChar(64)  NOT NULL,
        	[sequence_nr]    INTEGER       NOT NULL,
        	[persistence_id] NVarChar(255) NOT NULL,

        	CONSTRAINT [PK_tags] PRIMARY KEY ([ordering_id], [tag])
        )
        """,
        "CREATE INDEX IF NOT EXISTS tags_persistence_id_sequence_nr_idx ON tags (persistence_id, sequence_nr)",
        "CREATE INDEX IF NOT EXISTS tags_tag_idx ON tags (tag)",
    ];

    public static readonly string[] SqliteSnapshot =
    [
        """
        CREATE TABLE IF NOT EXISTS [snapshot]
        (
        	[persistence_id]  NVarChar(255) NOT NULL,
        	[sequence_number] INTEGER       NOT NULL,
        	[created]         INTEGER       NOT NULL,
        	[snapshot]        VarBinary         NULL,
        	[manifest]        NVarChar(500)     NULL,
        	[serializer_id]   INTEGER           NULL,

        	CONSTRAINT [PK_snapshot] PRIMARY KEY ([persistence_id], [sequence_number])
        )
        """,
        "CREATE INDEX IF NOT EXISTS snapshot_sequence_number_idx ON snapshot (sequence_number)",
        "CREATE INDEX IF NOT EXISTS snapshot_created_idx ON snapshot (created)",
    ];

    /// <summary>
    /// A PostgreSQL index made only when there is none of its name: <c>CREATE INDEX IF NOT EXISTS</c> takes its table's SHARE
    /// lock before it looks, so each node's journal start waited behind every write in flight on a shared database (and a
    /// stuck transaction held it up to the command timeout), while the writes that came next waited behind it.
    /// </summary>
    private static string Index(string name, string on) =>
        $"DO $$ BEGIN IF to_regclass('{name}') IS NULL THEN CREATE INDEX IF NOT EXISTS {name} ON {on}; END IF; END $$";

    // PostgreSQL: the tables in the connection's default schema (the default mapping names none), as pg_dump shows them.
    public static readonly string[] Postgres =
    [
        """
        CREATE TABLE IF NOT EXISTS journal (
            ordering bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
            created bigint NOT NULL,
            deleted boolean NOT NULL,
            persistence_id text NOT NULL,
            sequence_number bigint NOT NULL,
            message bytea NOT NULL,
            manifest text,
            identifier integer,
            writer_uuid text,
            CONSTRAINT "PK_journal" PRIMARY KEY (ordering),
            CONSTRAINT journal_uq UNIQUE (persistence_id, sequence_number)
        )
        """,
        Index("journal_created_idx", "journal (created)"),
        Index("journal_sequence_number_idx", "journal (sequence_number)"),
        """
        CREATE TABLE IF NOT EXISTS tags (
            ordering_id bigint NOT NULL,
            tag text NOT NULL,
            sequence_nr bigint NOT NULL,
            persistence_id text NOT NULL,
            CONSTRAINT "PK_tags" PRIMARY KEY (ordering_id, tag)
        )
        """,
        Index("tags_persistence_id_sequence_nr_idx", "tags (persistence_id, sequence_nr)"),
        Index("tags_tag_idx", "tags (tag)"),
    ];

    public static readonly string[] PostgresSnapshot =
    [
        """
        CREATE TABLE IF NOT EXISTS snapshot (
            persistence_id text NOT NULL,
            sequence_number bigint NOT NULL,
            created bigint NOT NULL,
            snapshot bytea,
            manifest text,
            serializer_id integer,
            CONSTRAINT "PK_snapshot" PRIMARY KEY (persistence_id, sequence_number)
        )
        """,
        Index("snapshot_created_idx", "snapshot (created)"),
        Index("snapshot_sequence_number_idx", "snapshot (sequence_number)"),
    ];
}
