namespace AkkaL4.Actors.ControlPlane.Journal;

/// <summary>
/// The journal and snapshot store a node's settings name, checked at start. Without the check a plugin with no class (one
/// this version does not have) fails only as the config writer starts, over and over, while the node routes on; and
/// settings left under Akka.Persistence.Sql's keys (read by versions before the light journal) would be ignored, the node
/// journalling somewhere else than its operator means (another host's SQLite file instead of the shared PostgreSQL).
/// </summary>
public static class JournalPlugins
{
    /// <summary>Where Akka.Persistence.Sql, which this version no longer carries, read its settings.</summary>
    internal static readonly string[] Removed = ["akka.persistence.journal.sql", "akka.persistence.snapshot-store.sql"];

    private const string Instead = "this version journals with akka.persistence.journal.light and akka.persistence.snapshot-store.light "
                                   + "(the same tables and rows; provider-name and connection-string as before), which --data, "
                                   + "--journal-provider and --journal-connection set";

    /// <summary>Why <paramref name="config"/> names a journal or snapshot store the node cannot start, or null.</summary>
    public static string? Refusal(Akka.Configuration.Config config)
    {
        foreach (var removed in Removed)
            if (config.HasPath(removed))
                return $"{removed}: settings there are no longer read (Akka.Persistence.Sql was replaced by the light plugin); {Instead}";
        // Akka's own plugins (inmem, local) are defined in Akka.Persistence's reference settings, not in the node's.
        var withReference = config.WithFallback(Akka.Persistence.Persistence.DefaultConfig());
        foreach (var key in new[] { "akka.persistence.journal.plugin", "akka.persistence.snapshot-store.plugin" })
        {
            var plugin = config.GetString(key, "");
            if (plugin.Length == 0) return $"{key} is empty: the config writer would have nowhere to keep its revisions; {Instead}";
            var type = withReference.GetString(plugin + ".class", "");
            if (string.IsNullOrWhiteSpace(type))
                return $"{key} = \"{plugin}\": {plugin}.class is not set, so no such plugin can start; {Instead}";
            if (type.StartsWith(typeof(JournalPlugins).Namespace + ".", StringComparison.Ordinal))
            {
                try
                {
                    JournalDatabase.MaxConnections(config.GetConfig(plugin));
                }
                catch (Akka.Configuration.ConfigurationException e)
                {
                    return $"{plugin}.{e.Message}";
                }
            }
        }
        return null;
    }
}
