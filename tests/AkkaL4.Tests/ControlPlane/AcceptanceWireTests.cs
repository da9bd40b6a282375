using System.IO.Compression;
using System.Text.Json;
using Akka.Actor;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Serialization;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// The config writer's acceptance (manifest <c>ca</c>) with which of its warnings the write brought (<c>New</c>), between
/// nodes of this version and of the one before it (mixed versions during a rolling upgrade): each reads the other's, small
/// (plain JSON) and large (gzipped, read by its head and its lists later).
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class AcceptanceWireTests : IDisposable
{
    /// <summary>The acceptance as the version before <c>New</c> has it.</summary>
    private sealed record EarlierAccepted(long Revision, IReadOnlyList<ResourceChange> Changes, IReadOnlyList<Diagnostic> Warnings);

    private readonly ActorSystem _system = ActorSystem.Create("acceptance-wire", "akka.loglevel = WARNING");
    private readonly ProtocolSerializer _serializer;

    public AcceptanceWireTests() => _serializer = new ProtocolSerializer((ExtendedActorSystem)_system);

    public void Dispose() => _system.Dispose();

    /// <param name="changes">Enough (thousands) for a body over the size that is gzipped.</param>
    private static (List<ResourceChange> Changes, List<Diagnostic> Warnings) Content(int changes) =>
        (Enumerable.Range(0, changes).Select(i => new ResourceChange(new ResourceKey("Service", "wire", $"svc-{i}"), ChangeAction.Created)).ToList(),
         [Diagnostic.Warning("VirtualService/wire/old", "spec.hosts[0]", "old"), Diagnostic.Warning("VirtualService/wire/vs", "spec.gateways[0]", "new")]);

    private static byte[] Gzip(byte[] json)
    {
        var packed = new MemoryStream();
        using (var gzip = new GZipStream(packed, CompressionLevel.Fastest)) gzip.Write(json);
        return packed.ToArray();
    }

    private static byte[] Gunzip(byte[] bytes)
    {
        if (bytes is not [0x1f, 0x8b, ..]) return bytes;
        using var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
        var json = new MemoryStream();
        gzip.CopyTo(json);
        return json.ToArray();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5000)]
    public void This_versions_acceptance_says_which_warnings_are_new_and_an_earlier_node_reads_the_rest(int changes)
    {
        var (list, warnings) = Content(changes);
        var sent = new ConfigAccepted(9, list, warnings, [false, true]);

        var bytes = _serializer.ToBinary(sent);
        var read = Assert.IsType<ConfigAccepted>(_serializer.FromBinary(bytes, _serializer.Manifest(sent)));

        Assert.Equal(changes > 1000, bytes is [0x1f, 0x8b, ..]);
        Assert.Equal(changes, read.Changes.Count);
        Assert.False(read.IsNew(0));
        Assert.True(read.IsNew(1));
        // An earlier node: its reader skips what it does not know, and reads a large one by its head (every property before
        // Changes, which it has as its Revision alone) and its lists later, as it always has.
        var json = Gunzip(bytes);
        var earlier = JsonSerializer.Deserialize<EarlierAccepted>(json, ModelJson.Options)!;
        Assert.Equal(9, earlier.Revision);
        Assert.Equal(changes, earlier.Changes.Count);
        Assert.Equal(warnings, earlier.Warnings);
        var reader = new Utf8JsonReader(json);
        var names = new List<string>();
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            names.Add(reader.GetString()!);
            reader.Skip();
        }
        Assert.Equal(["Revision", "Changes", "Warnings", "New"], names);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5000)]
    public void An_earlier_writers_acceptance_reads_with_its_warnings_new_or_not_unknown(int changes)
    {
        var (list, warnings) = Content(changes);
        var json = JsonSerializer.SerializeToUtf8Bytes(new EarlierAccepted(9, list, warnings), ModelJson.Options);

        var read = Assert.IsType<ConfigAccepted>(_serializer.FromBinary(changes > 1000 ? Gzip(json) : json, "ca"));

        Assert.Equal(changes, read.Changes.Count);
        Assert.Equal(warnings, read.Warnings);
        Assert.Null(read.IsNew(0));
        Assert.Null(read.IsNew(1));
    }
}
