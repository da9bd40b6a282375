using System.Collections.Immutable;
using System.IO.Compression;
using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.DistributedData;
using Akka.Serialization;
using AkkaL4.Actors;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Serialization;
using AkkaL4.Tests.Support;
using Xunit.Abstractions;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// What remoting's own threads spend on a message that carries the whole replicated configuration: the sender's writer
/// serializes it, the receiver's reader deserializes it, and a heartbeat between those two nodes waits behind both (one
/// connection, in order). Distributed data carries the writer's register in a write to a majority, a read's answer and
/// gossip; each is serialized and deserialized here as remoting does it (the serializer the node's settings bind, on this
/// thread), with the 4 MiB of barely compressible text of WriteChaosTests, and this thread's CPU time taken.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class RemotingPathCostTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>The node's settings (cluster.hocon), over distributed data's own (which the node's replicator adds at start).</summary>
    private readonly ActorSystem _system = ActorSystem.Create("remoting-path-cost",
        ConfigurationFactory.ParseString("akka.actor.provider = local\nakka.loglevel = WARNING")
            .WithFallback(ConfigurationFactory.ParseString(RouterNode.BuiltInHocon()))
            .WithFallback(DistributedData.DefaultConfig()));

    public void Dispose() => _system.Dispose();

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int clock_gettime(int clock, out TimeSpec time);

    /// <summary>This thread's CPU time (CLOCK_THREAD_CPUTIME_ID): what the work cost, whatever else the machine runs.</summary>
    private static TimeSpan ThreadCpu()
    {
        Assert.Equal(0, clock_gettime(3, out var time));
        return TimeSpan.FromTicks(time.Seconds * TimeSpan.TicksPerSecond + time.Nanoseconds / 100);
    }

    /// <summary>The least CPU of three runs of <paramref name="action"/> (a collection in one is not the work's).</summary>
    private static TimeSpan Cpu(Action action) => Enumerable.Range(0, 3).Select(_ =>
    {
        var start = ThreadCpu();
        action();
        return ThreadCpu() - start;
    }).Min();

    private static readonly UniqueAddress Writer = new(new Address("akka.tcp", "akkal4", "127.203.0.1", 4053), 1);

    /// <summary>One of distributed data's messages (internal types: made as its replicator makes them, by reflection).</summary>
    private static object Internal(string type, params object?[] arguments) =>
        Activator.CreateInstance(typeof(DistributedData).Assembly.GetType("Akka.DistributedData.Internal." + type, throwOnError: true)!,
            System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic, null, arguments, null)!;

    private static object Envelope(ConfigContent content) =>
        Internal("DataEnvelope", new LWWRegister<ConfigContent>(Writer, content, content.Revision), ImmutableDictionary<UniqueAddress, IPruningState>.Empty, null);

    private static object Write(ConfigContent content) => Internal("Write", ConfigWriter.Key.Id, Envelope(content), Writer);

    private static object Gossip(ConfigContent content, bool sendBack = false, long? to = 2) =>
        Internal("Gossip", ImmutableDictionary<string, Akka.DistributedData.Internal.DataEnvelope>.Empty.Add(ConfigWriter.Key.Id, (Akka.DistributedData.Internal.DataEnvelope)Envelope(content)),
            sendBack, to, 1L);

    private SerializerWithStringManifest Bound(object message) => Assert.IsAssignableFrom<SerializerWithStringManifest>(_system.Serialization.FindSerializerFor(message));

    /// <summary>The CPU time of serializing <paramref name="message"/> and of deserializing its bytes, and their size.</summary>
    private static (TimeSpan Serialize, TimeSpan Deserialize, int Bytes) Costs(SerializerWithStringManifest serializer, object message)
    {
        var manifest = serializer.Manifest(message);
        byte[] bytes = [];
        var serialize = Cpu(() => bytes = serializer.ToBinary(message));
        var deserialize = Cpu(() => Assert.NotNull(serializer.FromBinary(bytes, manifest)));
        return (serialize, deserialize, bytes.Length);
    }

    private static ConfigContent Noise(long revision) =>
        new(revision, ControlPlaneKit.Decode(WriteChaosTests.Incompressible(4 * 1024 * 1024)));

    [Fact]
    public void Gossip_of_the_4_MiB_configuration_costs_remoting_no_more_than_the_writers_write_of_it()
    {
        // The JIT's first compilations on a small one.
        var small = new ConfigContent(1, ControlPlaneKit.Decode(WriteChaosTests.Services(10)));
        Costs(Bound(Write(small)), Write(small));
        Costs(Bound(Gossip(small)), Gossip(small));
        var content = Noise(7);
        // The writer encodes its configuration ahead, on its own thread, before it replicates it (once: then it is kept).
        var start = ThreadCpu();
        ProtocolSerializer.EncodeNow(_system, content);
        var encode = ThreadCpu() - start;
        var write = Costs(Bound(Write(content)), Write(content));
        var gossip = Costs(Bound(Gossip(content)), Gossip(content));
        var akka = Costs(new Akka.DistributedData.Serialization.ReplicatorMessageSerializer((ExtendedActorSystem)_system), Gossip(content));
        foreach (var (name, cost) in new[] { ("write to a majority", write), ("gossip", gossip), ("gossip as Akka serializes it", akka) })
            output.WriteLine($"{name}: serialize {cost.Serialize.TotalMilliseconds:0.0} ms, deserialize {cost.Deserialize.TotalMilliseconds:0.0} ms of CPU, {cost.Bytes} bytes");
        output.WriteLine($"(the writer's own encoding of it, ahead: {encode.TotalMilliseconds:0.0} ms)");

        // A write to a majority copies the register's bytes; gossip carried the same bytes gzipped again (the sender's
        // remoting writer: 160 ms on this machine's quiet cores, seconds at load 150, with its heartbeats to that node behind it).
        var bound = write.Serialize * 3 + TimeSpan.FromMilliseconds(10);
        Assert.True(gossip.Serialize <= bound, $"gossip took the sender's remoting writer {gossip.Serialize.TotalMilliseconds:0} ms of CPU; a write of the same register {write.Serialize.TotalMilliseconds:0} ms");
        Assert.True(gossip.Deserialize <= write.Deserialize * 3 + TimeSpan.FromMilliseconds(10),
            $"gossip took the receiver's remoting reader {gossip.Deserialize.TotalMilliseconds:0} ms of CPU; a write of the same register {write.Deserialize.TotalMilliseconds:0} ms");
    }

    private static byte[] Gunzip(byte[] gzipped)
    {
        using var gzip = new GZipStream(new MemoryStream(gzipped), CompressionMode.Decompress);
        var plain = new MemoryStream();
        gzip.CopyTo(plain);
        return plain.ToArray();
    }

    [Theory]
    [InlineData(false, 2L)]
    [InlineData(true, 2L)]
    [InlineData(false, null)]
    [InlineData(true, 0L)]
    public void Gossip_is_akkas_own_message_read_by_akkas_serializer_either_way(bool sendBack, long? to)
    {
        var ours = Bound(Gossip(new ConfigContent(3, [])));
        Assert.IsType<ReplicatorMessages>(ours);
        var akka = new Akka.DistributedData.Serialization.ReplicatorMessageSerializer((ExtendedActorSystem)_system);
        Assert.Equal(akka.Identifier, ours.Identifier);
        var content = new ConfigContent(9, ControlPlaneKit.Decode(WriteChaosTests.Services(2_000)));
        var gossip = Gossip(content, sendBack, to);
        Assert.Equal(akka.Manifest(gossip), ours.Manifest(gossip));

        // The same protobuf, byte for byte, gzipped another way: any node, of any version, reads it.
        var sent = ours.ToBinary(gossip);
        Assert.Equal(Gunzip(akka.ToBinary(gossip)), Gunzip(sent));
        foreach (var read in new[] { akka.FromBinary(sent, ours.Manifest(gossip)), ours.FromBinary(akka.ToBinary(gossip), akka.Manifest(gossip)) })
        {
            var type = read.GetType();
            Assert.Equal(sendBack, (bool)type.GetProperty("SendBack")!.GetValue(read)!);
            Assert.Equal(to, (long?)type.GetProperty("ToSystemUid")!.GetValue(read));
            var entries = (IEnumerable<KeyValuePair<string, Akka.DistributedData.Internal.DataEnvelope>>)type.GetProperty("UpdatedData")!.GetValue(read)!;
            var (key, envelope) = Assert.Single(entries);
            Assert.Equal(ConfigWriter.Key.Id, key);
            var received = Assert.IsType<LWWRegister<ConfigContent>>(envelope.Data).Value;
            Assert.Equal(9, received.Revision);
            Assert.Equal(2_000, received.Resources.Count);
        }
        // Every other message as Akka writes it.
        var write = Write(content);
        Assert.Equal(akka.ToBinary(write), ours.ToBinary(write));
    }
}
