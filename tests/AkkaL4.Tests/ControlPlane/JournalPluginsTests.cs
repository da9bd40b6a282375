using Akka.Configuration;
using AkkaL4.Actors;
using AkkaL4.Actors.ControlPlane.Journal;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// A journal or snapshot store the node cannot start is refused at start, naming the setting: before, a plugin without a
/// class failed only as the config writer started (over and over, the node routing on), and settings left under
/// Akka.Persistence.Sql's keys (read before the light journal) were ignored, the node journalling elsewhere.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class JournalPluginsTests
{
    private static Akka.Configuration.Config Node(string overlay) => ConfigurationFactory.ParseString(overlay).WithFallback(ConfigurationFactory.ParseString(RouterNode.BuiltInHocon()));

    [Theory]
    [InlineData("")]
    [InlineData("akka.persistence.journal.plugin = \"akka.persistence.journal.inmem\"\nakka.persistence.snapshot-store.plugin = \"akka.persistence.snapshot-store.inmem\"")]
    [InlineData("akka.persistence.snapshot-store.plugin = \"akka.persistence.snapshot-store.local\"")]
    public void The_built_in_plugins_and_Akkas_own_start(string overlay) => Assert.Null(JournalPlugins.Refusal(Node(overlay)));

    [Theory]
    [InlineData("akka.persistence.journal.sql.connection-string = \"Host=db;Database=akkal4\"", "akka.persistence.journal.sql")]
    [InlineData("akka.persistence.snapshot-store.sql { provider-name = \"PostgreSQL.15\" }", "akka.persistence.snapshot-store.sql")]
    public void Settings_under_Akka_Persistence_Sqls_keys_are_refused_not_ignored(string overlay, string key)
    {
        var refusal = JournalPlugins.Refusal(Node(overlay));
        Assert.NotNull(refusal);
        Assert.StartsWith($"{key}: settings there are no longer read", refusal, StringComparison.Ordinal);
        Assert.Contains("--journal-connection", refusal, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("akka.persistence.journal.plugin", "akka.persistence.journal.sql")]
    [InlineData("akka.persistence.snapshot-store.plugin", "my.store")]
    public void A_plugin_without_a_class_is_refused(string key, string plugin)
    {
        var refusal = JournalPlugins.Refusal(Node($"{key} = \"{plugin}\""));
        Assert.NotNull(refusal);
        Assert.StartsWith($"{key} = \"{plugin}\": {plugin}.class is not set", refusal, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("akka.persistence.journal.light.max-connections = 0", "akka.persistence.journal.light.max-connections = 0: must be at least 1")]
    [InlineData("akka.persistence.snapshot-store.light.max-connections = -3", "akka.persistence.snapshot-store.light.max-connections = -3: must be at least 1")]
    public void A_light_plugins_max_connections_below_one_is_refused(string overlay, string refusal) =>
        Assert.Equal(refusal, JournalPlugins.Refusal(Node(overlay)));

    [Fact]
    public void No_plugin_at_all_is_refused()
    {
        var refusal = JournalPlugins.Refusal(Node("akka.persistence.journal.plugin = \"\""));
        Assert.NotNull(refusal);
        Assert.StartsWith("akka.persistence.journal.plugin is empty", refusal, StringComparison.Ordinal);
    }
}

/// <summary>The refusal stops the start before anything is written: no data directory, no journal file. Addresses: block 241.</summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class JournalPluginsAtStartTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(241);

    [Fact]
    public void A_node_whose_settings_name_Akka_Persistence_Sql_does_not_start()
    {
        var data = Path.Combine(Path.GetTempPath(), $"akkal4-journal-plugins-{Guid.NewGuid():N}");
        try
        {
            // On the old code the node started (stopped again here, the assertion failing).
            var refused = Assert.Throws<ConfigurationException>(() => RouterNode.Start(new RouterNodeOptions
            {
                Name = "journal-plugins",
                DataDirectory = data,
                Overrides = "akka.loglevel = WARNING\nakka.stdout-loglevel = OFF\n"
                            + $"akka.remote.dot-netty.tcp {{ hostname = \"{Block.Host(1, 1)}\", port = 0 }}\n"
                            + "akka.persistence.journal.sql.connection-string = \"Host=db;Database=akkal4\"",
            }).DisposeAsync().AsTask().Wait());
            Assert.StartsWith("akka.persistence.journal.sql: settings there are no longer read", refused.Message, StringComparison.Ordinal);
            Assert.False(Directory.Exists(data), "the data directory was created before the refusal");
        }
        finally
        {
            if (Directory.Exists(data)) Directory.Delete(data, recursive: true);
        }
    }
}
