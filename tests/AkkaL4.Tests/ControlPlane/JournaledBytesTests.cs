using Akka.Actor;
using Akka.Configuration;
using AkkaL4.Actors;
using AkkaL4.Messages.Events;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Serialization;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// What the config writer and a route-table entity journal (a batch, a checkpoint, a namespace) they encode on their own thread
/// before they hand it to the journal (ProtocolSerializer.EncodeNow, ConfigWriter, RouteTable): the journal plugin, which runs on the .NET pool, then gets those bytes and
/// encodes nothing (rel18 measured its encode of a 4 MiB batch at 0.58 s of a pool thread, heartbeats waiting for one).
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class JournaledBytesTests : IDisposable
{
    /// <summary>The node's serializer bindings (cluster.hocon), as the writer's system has them.</summary>
    private readonly ActorSystem _system = ActorSystem.Create("journaled-bytes",
        ConfigurationFactory.ParseString("akka.actor.provider = local\nakka.loglevel = WARNING").WithFallback(ConfigurationFactory.ParseString(RouterNode.BuiltInHocon())));

    public void Dispose() => _system.Dispose();

    /// <summary>A namespace over the size that is gzipped (its list spliced in as a gzip member).</summary>
    private static IReadOnlyList<Resource> Namespace() =>
        ControlPlaneKit.Decode(Enumerable.Range(0, 300).Select(i => ControlPlaneKit.Service($"svc-{i}", "journaled", "None")).ToArray());

    public static TheoryData<string> Events => ["batch", "checkpoint", "namespace"];

    [Theory]
    [MemberData(nameof(Events))]
    public void An_event_encoded_by_the_writer_is_what_the_journal_gets_not_encoded_again(string kind)
    {
        var resources = Namespace();
        object journaled = kind switch
        {
            "batch" => new BatchCommitted(7, [new NamespaceResources("journaled", resources)]),
            "checkpoint" => new WriterCheckpoint(7, [new NamespaceRevision("journaled", 7, "h")], resources),
            _ => new NamespaceWritten(7, "journaled", resources, "h"),
        };
        ProtocolSerializer.EncodeNow(_system, journaled);
        var serializer = Assert.IsType<ProtocolSerializer>(_system.Serialization.FindSerializerFor(journaled));
        // The journal's call: the writer's bytes, the very array (an encode would make a new one).
        var made = serializer.ToBinary(journaled);
        Assert.Same(made, serializer.ToBinary(journaled));
        // And they read back as the event.
        var (revision, count) = serializer.FromBinary(made, serializer.Manifest(journaled)) switch
        {
            BatchCommitted b => (b.Revision, b.Namespaces.Single().Resources.Count),
            WriterCheckpoint c => (c.Revision, c.Resources!.Count),
            NamespaceWritten n => (n.Revision, n.Resources.Count),
            var other => throw new InvalidOperationException($"read back as {other}"),
        };
        Assert.Equal((7L, resources.Count), (revision, count));
    }
}
