using System.Diagnostics;
using AkkaL4.Actors.Config;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Events;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Serialization;

namespace AkkaL4.Bench;

/// <summary>
/// <c>bigwrite [passes]</c>: the CPU each step of WriteChaosTests' 4 MiB stage costs, in one process: a namespace of just under
/// 4 MiB of barely compressible WorkloadEntries written over 10,000 Services in ten namespaces, as the admin API, the config
/// writer, the namespace's route table and every node's route cache handle it. Times are the process's CPU seconds.
/// </summary>
internal static class BigWrite
{
    public static int Run(string[] args)
    {
        var passes = args.Length > 0 ? int.Parse(args[0]) : 3;
        using var system = Akka.Actor.ActorSystem.Create("bigwrite", "akka.loglevel = WARNING");
        var serializer = new ProtocolSerializer((Akka.Actor.ExtendedActorSystem)system);
        var services = ConfigCheck.Check(Services(10_000), "services").Resources;
        var dir = Path.Combine(Path.GetTempPath(), "akkal4-bigwrite-" + Environment.ProcessId);
        var lkg = new LastKnownGood(dir);
        for (var pass = 1; pass <= passes; pass++)
        {
            var store = new ConfigStore();
            store.Apply(services, DateTimeOffset.UtcNow);
            var noise = Incompressible(4 * 1024 * 1024, seed: pass);
            var steps = new CpuSteps();
            // The nodes route by the 10,000 Services before the write (and keep them as their last-known-good copy).
            var previous = store.ReadByNamespace();
            var previousReceived = (ConfigContent)serializer.FromBinary(serializer.ToBinary(previous), serializer.Manifest(previous));
            lkg.Save(previousReceived);

            var report = steps.Step("edge: decode + validate (ConfigCheck)", () => ConfigCheck.Check(noise, "request"));
            var request = steps.Step("edge: encode WriteConfig", () => serializer.ToBinary(new WriteConfig(report.Resources, DateTimeOffset.UtcNow)));
            var write = (WriteConfig)serializer.FromBinary(request, "wt");
            steps.Step("writer: decode WriteConfig", () => write.Resources.Count);
            steps.Step("writer: copy the store (Before)", () => store.Copy());
            var accepted = (ConfigAccepted)steps.Step("writer: ConfigStore.Apply (validate, check, analyse)", () => store.Apply(write.Resources, DateTimeOffset.UtcNow));
            var changed = steps.Step("writer: read the changed namespace", () => store.Read(null, "noise").Resources);
            var batch = new BatchCommitted(accepted.Revision, [new NamespaceResources("noise", changed)]);
            steps.Step("writer: journal encode BatchCommitted", () => serializer.ToBinary(batch));
            var hash = steps.Step("writer: hash the namespace (its chunk)", () => ResourceChunks.Of(changed).Hash);
            var whole = steps.Step("writer: read the whole configuration", () => store.ReadByNamespace());
            var wholeBytes = steps.Step("writer: encode ConfigContent", () => serializer.ToBinary(whole));
            var storeBytes = steps.Step("writer: encode StoreNamespace", () => serializer.ToBinary(new StoreNamespace("noise", accepted.Revision, changed, hash)));
            steps.Step("writer: encode the change list (ConfigAccepted)", () => serializer.ToBinary(accepted));
            var stored = (StoreNamespace)serializer.FromBinary(storeBytes, "st");
            steps.Step("route table: decode StoreNamespace", () => stored.Resources.Count);
            steps.Step("route table: journal encode NamespaceWritten", () => serializer.ToBinary(new NamespaceWritten(stored.Revision, "noise", stored.Resources, stored.Hash)));
            var received = (ConfigContent)serializer.FromBinary(wholeBytes, serializer.Manifest(whole));
            steps.Step("node: decode ConfigContent", () => received.Resources.Count);
            steps.Step("node: compile (RouteCompiler.Compile)", () => RouteCompiler.Compile(received.Resources, Labels.Empty, received.Revision));
            steps.Step("node: copy for Applied (ToList)", () => received.Resources.ToList());
            steps.Step("node: last-known-good (LastKnownGood.Save)", () => { lkg.Save(received); return 0; });
            steps.Step("  of which the 10,000 Services as YAML", () => ManifestEncoder.ToYaml(received.Resources.Where(r => r.Metadata.Namespace != "noise")).Length);
            steps.Step("  of which the noise namespace as YAML", () => ManifestEncoder.ToYaml(received.Resources.Where(r => r.Metadata.Namespace == "noise")).Length);
            Console.WriteLine($"pass {pass}: {noise.Length / 1e6:F2} MB of YAML, {report.Resources.Count} resources written over {services.Count}; "
                              + $"{request.Length / 1e6:F2} MB to the writer, {wholeBytes.Length / 1e6:F2} MB replicated, {storeBytes.Length / 1e6:F2} MB to the route table (CPU seconds)");
            steps.Print(56);
        }
        Directory.Delete(dir, recursive: true);
        return 0;
    }

    /// <summary>WriteChaosTests.Services: headless Services in namespaces big-0 to big-9.</summary>
    internal static string Services(int count, int port = 1000) => string.Join("\n---\n", Enumerable.Range(0, count).Select(i =>
        $"apiVersion: v1\nkind: Service\nmetadata: {{name: svc-{i}, namespace: big-{i % 10}}}\nspec:\n  clusterIP: None\n"
        + $"  selector: {{app: svc-{i}}}\n  ports: [{{name: tcp, port: {port + i % 50000}, targetPort: 9000}}]"));

    /// <summary>WriteChaosTests.Incompressible: WorkloadEntries in namespace noise with 2,900 random bytes each as base64.</summary>
    internal static string Incompressible(int limit, int seed)
    {
        var random = new Random(seed);
        var documents = new List<string>();
        for (var size = 0; ;)
        {
            var bytes = new byte[2900];
            random.NextBytes(bytes);
            var document = $"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {{name: noise-{documents.Count}, namespace: noise, "
                           + $"annotations: {{noise: {Convert.ToBase64String(bytes)}}}}}\nspec: {{address: 127.180.9.8, labels: {{app: noise}}}}";
            if (size + document.Length + 5 > limit - 4096) return string.Join("\n---\n", documents);
            size += document.Length + 5;
            documents.Add(document);
        }
    }
}
