using System.IO.Compression;
using System.Runtime.Serialization;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Events;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Serialization;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// A write of one namespace costs work for that namespace, not the whole configuration: the writer's store keeps each
/// namespace's list while it does not change, the replicated configuration carries each namespace apart (manifest
/// <c>cg</c>), a node decodes only the namespaces whose content it does not hold, the journal's and the entities' messages
/// splice in a namespace's encoding made once, and a node's last-known-good copy formats only the namespaces that changed.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class ByNamespaceTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly ActorSystem _system = ActorSystem.Create("by-namespace", "akka.loglevel = WARNING");
    private readonly ProtocolSerializer _serializer;
    private readonly string _directory = TempDirectory();

    public ByNamespaceTests() => _serializer = new ProtocolSerializer((ExtendedActorSystem)_system);

    public void Dispose()
    {
        _system.Dispose();
        DeleteDirectory(_directory);
    }

    /// <summary>10 namespaces of 300 Services each (over the size that is gzipped), and a store holding them.</summary>
    private static ConfigStore Store()
    {
        var store = new ConfigStore();
        Assert.IsType<ConfigAccepted>(store.Apply(Decode(WriteChaosTests.Services(3_000)), Now));
        return store;
    }

    private static Dictionary<string, IReadOnlyList<Resource>> Namespaces(ConfigContent content) =>
        Assert.IsType<NamespacedResources>(content.Resources).Namespaces.ToDictionary(n => n.Namespace, n => n.Resources);

    private ConfigContent Received(ConfigContent sent) => Assert.IsType<ConfigContent>(_serializer.FromBinary(_serializer.ToBinary(sent), _serializer.Manifest(sent)));

    [Fact]
    public void The_store_keeps_a_namespace_list_until_the_namespace_changes()
    {
        var store = Store();
        var before = Namespaces(store.ReadByNamespace());
        Assert.Equal(10, before.Count);
        Assert.IsType<ConfigAccepted>(store.Apply(Decode(Service("added", "big-3", "127.180.1.1")), Now));
        var after = Namespaces(store.ReadByNamespace());

        Assert.NotSame(before["big-3"], after["big-3"]);
        Assert.Contains(after["big-3"], r => r.Metadata.Name == "added");
        foreach (var ns in before.Keys.Where(ns => ns != "big-3")) Assert.Same(before[ns], after[ns]);
        Assert.Same(after["big-3"], store.Read(null, "big-3").Resources);
        // A copy (what the writer puts back when the journal refuses a batch) keeps the lists.
        Assert.Same(after["big-0"], Namespaces(store.Copy().ReadByNamespace())["big-0"]);
        // A deleted resource changes its namespace's list.
        Assert.IsType<ConfigAccepted>(store.Delete(new ResourceKey("Service", "big-4", "svc-4")));
        Assert.NotSame(after["big-4"], Namespaces(store.ReadByNamespace())["big-4"]);
        Assert.Same(after["big-5"], Namespaces(store.ReadByNamespace())["big-5"]);
    }

    [Fact]
    public void A_node_decodes_only_the_namespaces_whose_content_it_does_not_hold()
    {
        var store = Store();
        var first = Received(store.ReadByNamespace());
        Assert.Equal(3_000, first.Resources.Count);
        var held = Namespaces(first);
        Assert.IsType<ConfigAccepted>(store.Apply(Decode(Service("added", "big-3", "127.180.1.1")), Now));

        var second = Received(store.ReadByNamespace());
        Assert.Equal(store.Revision, second.Revision);
        var now = Namespaces(second);
        Assert.Contains(now["big-3"], r => r.Metadata.Name == "added");
        Assert.NotSame(held["big-3"], now["big-3"]);
        // The others: the very lists the node holds (not decoded again).
        foreach (var ns in held.Keys.Where(ns => ns != "big-3")) Assert.Same(held[ns], now[ns]);
        // And what it got is what the writer holds, resource for resource, in order.
        Assert.Equal(Json(store.ReadByNamespace().Resources), Json(second.Resources));
        Assert.Equal(second.Resources.ToList(), Enumerable.Range(0, second.Resources.Count).Select(i => second.Resources[i]).ToList());
    }

    [Fact]
    public void A_namespace_that_does_not_decode_fails_where_the_configuration_is_first_read()
    {
        var bad = "{\"Revision\":5,\"Namespaces\":[{\"Namespace\":\"a\",\"Resources\":[{\"kind\":\"NoSuchKind\",\"pad\":\"" + new string('x', 40_000) + "\"}]}]}";
        var received = Assert.IsType<ConfigContent>(_serializer.FromBinary(Gzip(bad), "cg"));
        Assert.Equal(5, received.Revision);
        var error = Assert.Throws<SerializationException>(() => received.Resources.Count);
        Assert.StartsWith("cg: ", error.Message);
        // No revision first: refused when taken.
        Assert.Throws<SerializationException>(() => _serializer.FromBinary(Gzip("{\"Namespaces\":[]}"), "cg"));
        // Small and plain, or empty: read as well.
        Assert.Empty(Received(new ConfigContent(6, [])).Resources);
        var one = Received(new ConfigContent(7, Decode(Service("web", "small", "127.180.1.2"))));
        Assert.Equal("web", Assert.Single(one.Resources).Metadata.Name);
    }

    [Fact]
    public void Journaled_and_sent_namespaces_splice_in_the_encoding_made_once_and_read_back_equal()
    {
        var store = Store();
        var a = store.Read(null, "big-1").Resources;
        var b = store.Read(null, "big-2").Resources;
        var chunk = ResourceChunks.Of(a);
        Assert.Same(chunk, ResourceChunks.Of(a));
        Assert.Equal(ModelJson.Hash(a), chunk.Hash);
        Assert.Equal(ModelJson.Size(a), chunk.Bytes);
        foreach (var (message, manifest) in new (object, string)[]
                 {
                     (new BatchCommitted(9, [new NamespaceResources("big-1", a), new NamespaceResources("big-2", b)]), "bt"),
                     (new NamespaceWritten(9, "big-1", a, chunk.Hash), "nx"),
                     (new StoreNamespace("big-1", 9, a, chunk.Hash), "st"),
                 })
        {
            var bytes = _serializer.ToBinary(message);
            Assert.True(bytes is [0x1f, 0x8b, ..]);
            // The namespace's gzip as it is, inside the message.
            Assert.True(bytes.AsSpan().IndexOf(chunk.Gzip) > 0, $"{manifest}: the namespace's encoding is spliced in");
            Assert.Equal(Json(message), Json(_serializer.FromBinary(bytes, manifest)));
        }

        // The entity journals the namespace as it came from the writer: its gzip spliced in, not encoded again.
        var received = Assert.IsType<StoreNamespace>(_serializer.FromBinary(_serializer.ToBinary(new StoreNamespace("big-1", 9, a, chunk.Hash)), "st"));
        var journaled = _serializer.ToBinary(new NamespaceWritten(9, "big-1", received.Resources, received.Hash));
        Assert.True(journaled.AsSpan().IndexOf(chunk.Gzip) > 0, "nx: the namespace as it came is spliced in");
        Assert.Equal(Json(new NamespaceWritten(9, "big-1", a, chunk.Hash)), Json(_serializer.FromBinary(journaled, "nx")));
    }

    [Fact]
    public void The_last_known_good_copy_of_a_configuration_by_namespace_loads_back_equal()
    {
        var store = Store();
        Assert.IsType<ConfigAccepted>(store.Apply(Decode(Service("web", "lkg", "127.180.1.3")), Now));
        var lkg = new LastKnownGood(_directory);
        var sent = Received(store.ReadByNamespace());
        lkg.Save(sent);
        var text = File.ReadAllText(lkg.Path);
        Assert.Equal(LastKnownGood.Format(sent), text);
        Assert.Equal(LastKnownGood.Format(new ConfigContent(sent.Revision, sent.Resources.ToList())), text);
        var loaded = lkg.Load(out var problem);
        Assert.Null(problem);
        Assert.Equal(store.Revision, loaded!.Revision);
        Assert.Equal(sent.Resources.ToList(), loaded.Resources);

        // A later revision: the namespace that changed is in the copy.
        Assert.IsType<ConfigAccepted>(store.Apply(Decode(Service("web2", "lkg", "127.180.1.4")), Now));
        lkg.Save(Received(store.ReadByNamespace()));
        Assert.Contains("name: web2\n", File.ReadAllText(lkg.Path));
        Assert.Equal(3_002, lkg.Load(out _)!.Resources.Count);
    }

    private static string Json(object value) => JsonSerializer.Serialize(value, value.GetType(), ModelJson.Options);

    private static byte[] Gzip(string json)
    {
        var packed = new MemoryStream();
        using (var gzip = new GZipStream(packed, CompressionLevel.Fastest)) gzip.Write(Encoding.UTF8.GetBytes(json));
        return packed.ToArray();
    }
}
