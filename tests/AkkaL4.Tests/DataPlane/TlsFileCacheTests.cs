using Akka.Event;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// <see cref="TlsOrigination.Load"/> on its own: how often an unreadable file is logged, and when changed files are read
/// again. No sockets.
/// </summary>
[Trait("Category", "Unit")]
public sealed class TlsFileCacheTests
{
    /// <summary>Error lines written, in order.</summary>
    private sealed class Recording() : LoggingAdapterBase(DefaultLogMessageFormatter.Instance)
    {
        public List<string> Errors { get; } = [];
        public override bool IsDebugEnabled => true;
        public override bool IsInfoEnabled => true;
        public override bool IsWarningEnabled => true;
        public override bool IsErrorEnabled => true;

        protected override void NotifyLog(LogLevel level, object message, Exception? cause)
        {
            if (level == LogLevel.ErrorLevel) lock (Errors) Errors.Add(message.ToString() ?? "");
        }
    }

    [Fact]
    public void Two_rules_sharing_an_unreadable_CA_file_log_it_once_each_not_once_per_connection()
    {
        var ca = Path.Combine(Path.GetTempPath(), $"akkal4-shared-ca-{Guid.NewGuid():N}.pem");
        UpstreamTls Rule(string name) => new("SIMPLE", ca, null, null, null, Seq<string>.Empty, false) { Rules = name };
        var log = new Recording();
        for (var i = 0; i < 10; i++)
        {
            Assert.Throws<UpstreamTlsConfigurationException>(() => TlsOrigination.Load(Rule("DestinationRule/default/a"), log));
            Assert.Throws<UpstreamTlsConfigurationException>(() => TlsOrigination.Load(Rule("DestinationRule/default/b"), log));
        }
        Assert.Equal(2, log.Errors.Count);
        Assert.Single(log.Errors, e => e.StartsWith("DestinationRule/default/a ", StringComparison.Ordinal));
        Assert.Single(log.Errors, e => e.StartsWith("DestinationRule/default/b ", StringComparison.Ordinal));
    }
}
