using System.IO.Compression;
using System.Runtime.Serialization;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.DistributedData;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Serialization;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Queries;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// The write contract without processes: the writer takes only what the nodes' compiler can compile (and the CLI
/// says so the same way), a node that cannot apply a revision keeps its last good one and says so, and large
/// cluster messages travel compressed while older plain ones still read. Addresses: 127.10.0.x.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class WriteContractTests
{
    /// <summary>Validates (an IPv6 CIDR), but the router reads an IPv4-mapped prefix as IPv4, where /104 does not exist.</summary>
    internal static string Poison(string ns = "default", string ip = "127.10.0.1") => Join(
        Service("poison", ns, ip),
        $$"""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: poison, namespace: {{ns}}}
        spec:
          hosts: [poison]
          tcp:
          - match:
            - destinationSubnets: ["::ffff:10.0.0.0/104"]
            route:
            - destination: {host: poison}
        """);

    internal const string PoisonField = "spec.tcp[0].match[0].destinationSubnets[0]";

    [Fact]
    public void The_store_refuses_what_the_compiler_cannot_compile_with_the_resource_and_field()
    {
        var store = new ConfigStore();
        var rejected = Assert.IsType<ConfigRejected>(store.Apply(Decode(Poison()), DateTimeOffset.UtcNow));
        var error = Assert.Single(rejected.Errors);
        Assert.Equal("VirtualService/default/poison", error.Resource);
        Assert.Equal(PoisonField, error.Field);
        Assert.Contains("10.0.0.0/8", error.Message);
        Assert.Equal(0, store.Revision);
    }

    [Theory]
    [InlineData("validate")]
    [InlineData("explain")]
    public async Task Validate_and_explain_report_it_with_the_field_path_and_no_stack_trace(string verb)
    {
        var directory = TempDirectory();
        try
        {
            var file = Path.Combine(directory, "poison.yaml");
            await File.WriteAllTextAsync(file, Poison());
            var run = await Akkal4Process.RunAsync(verb == "validate"
                ? ["validate", "-f", file]
                : ["explain", "-f", file, "-s", "127.10.0.9", "-d", "127.10.0.1:19000"]);
            Assert.Equal(1, run.ExitCode);
            Assert.Contains(PoisonField, run.Stdout);
            Assert.DoesNotContain("   at ", run.Stdout + run.Stderr);
        }
        finally
        {
            DeleteDirectory(directory);
        }
    }

    [Fact]
    public async Task A_node_that_cannot_apply_a_revision_keeps_its_last_good_one_says_so_once_and_takes_the_next()
    {
        var node = await StartNodeAsync("cp-poison");
        try
        {
            var good = await ApplyAsync(node, Service("good", "default", "127.10.0.2"));
            // What no writer would send (it compiles first), put straight into the replicated register.
            var replicator = DistributedData.Get(node.ClusterSystem).Replicator;
            var self = Akka.Cluster.Cluster.Get(node.ClusterSystem).SelfUniqueAddress;
            void Replicate(long revision, string yaml)
            {
                var register = new LWWRegister<ConfigContent>(self, new ConfigContent(revision, Decode(yaml)), revision);
                replicator.Tell(Dsl.Update(ConfigWriter.Key, register, WriteLocal.Instance, r => r.Merge(register)));
            }
            Replicate(good.Revision + 1, Poison(ip: "127.10.0.3"));
            await EventuallyAsync(() => Task.FromResult(node.Revisions.Failed == good.Revision + 1), "the node reports the revision it could not apply");
            Assert.Equal(good.Revision, node.Revisions.InForce);
            Assert.Equal(good.Revision, node.Routes.Current.Revision);
            Assert.Contains(PoisonField, node.Revisions.Error);
            var reported = node.Revisions;
            await EventuallyAsync(async () => (await node.MemberRevisionsAsync()).GetValueOrDefault(node.ClusterAddress) == reported,
                "the failure is replicated for /v1/status");

            // No retry loop: the report stays the same object (a second attempt would publish a new one). What must not
            // happen cannot be awaited: this second is the scenario, not a stand-in for a condition.
            await Task.Delay(1000);
            Assert.Same(reported, node.Revisions);

            Replicate(good.Revision + 2, Service("good", "default", "127.10.0.2"));
            await InForceAsync(node, good.Revision + 2);
            Assert.Equal(new MemberRevision(good.Revision + 2, 0, null), node.Revisions);
        }
        finally
        {
            await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task Large_messages_travel_gzipped_and_plain_ones_written_before_still_read()
    {
        var system = ActorSystem.Create("serializer-test");
        try
        {
            var serializer = new ProtocolSerializer((ExtendedActorSystem)system);
            var yaml = string.Join("\n---\n", Enumerable.Range(0, 2000).Select(i => Service($"s{i}", "big", "127.10.0.4")));
            var large = new WriteConfig(Decode(yaml), DateTimeOffset.UnixEpoch);
            var bytes = serializer.ToBinary(large);
            Assert.True(bytes is [0x1f, 0x8b, ..], "gzipped");
            Assert.True(bytes.Length * 5 < Encoding.UTF8.GetByteCount(yaml), $"{bytes.Length} bytes for {yaml.Length} characters of YAML");
            Assert.Equal(large.Resources, Assert.IsType<WriteConfig>(serializer.FromBinary(bytes, serializer.Manifest(large))).Resources);

            var small = new WriteJournaled(7);
            Assert.Equal((byte)'{', serializer.ToBinary(small)[0]);
            var plain = JsonSerializer.SerializeToUtf8Bytes(large, ModelJson.Options);
            Assert.Equal(large.Resources, Assert.IsType<WriteConfig>(serializer.FromBinary(plain, "wt")).Resources);

            // A gzip bomb from a peer (a few hundred KB that expand past the cap) is refused, not expanded.
            var bomb = new MemoryStream();
            using (var gzip = new GZipStream(bomb, CompressionLevel.Optimal))
            {
                var zeros = new byte[1024 * 1024];
                for (var i = 0; i < ProtocolSerializer.MaxExpandedBytes / zeros.Length + 1; i++) gzip.Write(zeros);
            }
            var refused = Assert.Throws<SerializationException>(() => serializer.FromBinary(bomb.ToArray(), "wt"));
            Assert.Contains("expands past", refused.Message);
        }
        finally
        {
            await system.Terminate();
        }
    }

    /// <summary>A VirtualService whose first http route's headers nest <paramref name="levels"/> maps: valid, and deep.</summary>
    internal static string DeepVirtualService(int levels, string name = "deep") =>
        "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata: {name: " + name + ", namespace: deep}\nspec:\n  hosts: [deep.example]\n  http:\n  - route:\n    - destination: {host: deep.example}\n    headers: "
        + string.Concat(Enumerable.Repeat("{a: ", levels)) + "x" + new string('}', levels) + "\n";

    [Fact]
    public async Task A_configuration_as_deep_as_the_admin_api_accepts_travels_every_message_it_is_in()
    {
        var system = ActorSystem.Create("serializer-deep-test");
        try
        {
            var serializer = new ProtocolSerializer((ExtendedActorSystem)system);
            var report = AkkaL4.Actors.Config.ConfigCheck.Check(DeepVirtualService(40), "deep.yaml");
            Assert.True(report.Ok, string.Join("; ", report.Errors));
            var resources = report.Resources;
            object[] messages =
            [
                new WriteConfig(resources, DateTimeOffset.UnixEpoch),
                new AkkaL4.Messages.Events.BatchCommitted(3, [new AkkaL4.Messages.Events.NamespaceResources("deep", resources)]),
                new ConfigContent(3, resources),
                new NamespaceContent("deep", 3, resources, ModelJson.Hash(resources)),
                new StoreNamespace("deep", 3, resources, ModelJson.Hash(resources)),
            ];
            foreach (var message in messages)
            {
                var back = serializer.FromBinary(serializer.ToBinary(message), serializer.Manifest(message));
                Assert.Equal(message.GetType(), back.GetType());
                Assert.Equal(JsonSerializer.Serialize(message, message.GetType(), ModelJson.Options), JsonSerializer.Serialize(back, back.GetType(), ModelJson.Options));
            }
            Assert.Equal(resources, Assert.IsType<ConfigContent>(serializer.FromBinary(serializer.ToBinary(messages[2]), serializer.Manifest(messages[2]))).Resources);
        }
        finally
        {
            await system.Terminate();
        }
    }

    [Fact]
    public async Task A_kind_the_cluster_does_not_know_first_or_not_is_a_serialization_error()
    {
        var system = ActorSystem.Create("serializer-kind-test");
        try
        {
            var serializer = new ProtocolSerializer((ExtendedActorSystem)system);
            var content = new ConfigContent(1, Decode(Service("a", "default", "127.100.200.1")));
            // As versions before the configuration went by namespace sent it (manifest "cc", still read).
            var json = System.Text.Json.JsonSerializer.Serialize(content, AkkaL4.Messages.Serialization.ModelJson.Options);
            Assert.Contains("{\"kind\":\"Service\",", json);
            var unknown = json.Replace("\"kind\":\"Service\"", "\"kind\":\"Pod\"");
            // The same resource with its kind last: a discriminator must come first.
            var tree = System.Text.Json.Nodes.JsonNode.Parse(json)!;
            var resource = (tree["Resources"] ?? tree["resources"])![0]!.AsObject();
            resource.Remove("kind");
            resource.Add("kind", "Service");
            var notFirst = tree.ToJsonString();
            Assert.DoesNotContain("{\"kind\"", notFirst);
            foreach (var bad in new[] { unknown, notFirst })
            {
                var refused = Assert.Throws<SerializationException>(() => serializer.FromBinary(Encoding.UTF8.GetBytes(bad), "cc"));
                Assert.StartsWith("cc: ", refused.Message);
            }
        }
        finally
        {
            await system.Terminate();
        }
    }
}
