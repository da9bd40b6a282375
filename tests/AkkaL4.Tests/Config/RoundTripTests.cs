using AkkaL4.Actors.Config;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Serialization;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Config;

/// <summary>decode → <see cref="ManifestEncoder.ToYaml"/> → decode gives equal records: nothing is lost or retyped.</summary>
[Trait("Category", "Unit")]
public class RoundTripTests
{
    private static readonly string[] ManifestExtensions = [".yaml", ".yml", ".json"];

    /// <summary>Every manifest under examples/, relative to the repository root.</summary>
    private static IReadOnlyList<string> ExamplePaths() =>
        Directory.EnumerateFiles(Repo.Path("examples"), "*", SearchOption.AllDirectories)
            .Where(f => ManifestExtensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
            .Select(f => Path.GetRelativePath(Repo.Root, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToList();

    public static TheoryData<string> ExampleFiles() => new(ExamplePaths());

    private static IReadOnlyList<Resource> DecodeOk(string text, string source)
    {
        var result = ManifestDecoder.Decode(text, source);
        Assert.True(result.Ok, $"{source}: " + string.Join("; ", result.Errors));
        return result.Resources.Select(r => r.Resource).ToList();
    }

    private static (IReadOnlyList<Resource> First, IReadOnlyList<Resource> Second, string Yaml) RoundTrip(string text, string source)
    {
        var first = DecodeOk(text, source);
        var yaml = ManifestEncoder.ToYaml(first);
        var second = DecodeOk(yaml, source + " (encoded)");
        return (first, second, yaml);
    }

    [Theory]
    [MemberData(nameof(ExampleFiles))]
    public void Every_example_survives_a_round_trip(string relativePath)
    {
        var (first, second, yaml) = RoundTrip(File.ReadAllText(Repo.Path(relativePath)), relativePath);

        Assert.NotEmpty(first);
        Assert.Equal(first, second);
        Assert.Equal(yaml, ManifestEncoder.ToYaml(second));
    }

    [Fact]
    public void The_examples_are_found()
    {
        Assert.Contains("examples/seed/world.yaml", ExamplePaths());
    }

    [Fact]
    public void All_examples_together_survive_a_round_trip_in_one_stream()
    {
        var all = ExamplePaths()
            .SelectMany(path => DecodeOk(File.ReadAllText(Repo.Path(path)), path)).ToList();

        var again = DecodeOk(ManifestEncoder.ToYaml(all), "all");

        Assert.Equal(all, again);
    }

    private const string RichDestinationRule = """
        apiVersion: networking.istio.io/v1beta1
        kind: DestinationRule
        metadata:
          name: reviews
          namespace: shop
          labels: {app: reviews, enabled: "true", port: "8080", version: "1.0"}
          annotations: {note: "null", empty: "", tilde: "~", star: "*x"}
          resourceVersion: "42"
          generation: 7
        spec:
          host: reviews.shop.svc.cluster.local
          exportTo: ["."]
          workloadSelector: {matchLabels: {app: reviews}}
          trafficPolicy:
            loadBalancer:
              simple: LEAST_REQUEST
              localityLbSetting: {enabled: true, failover: [{from: us-east, to: us-west}]}
              warmupDurationSecs: 30s
            connectionPool:
              tcp:
                maxConnections: 100
                connectTimeout: 1.5s
                tcpKeepalive: {probes: 3, time: 1h30m, interval: 75s}
                maxConnectionDuration: 1h
                idleTimeout: 0s
              http: {http1MaxPendingRequests: 10, idleTimeout: 30s}
            outlierDetection:
              consecutive5xxErrors: 5
              consecutiveGatewayErrors: 3
              splitExternalLocalOriginErrors: true
              consecutiveLocalOriginFailures: 2
              interval: 500ms
              baseEjectionTime: 30s
              maxEjectionPercent: 10
              minHealthPercent: 50
            tls: {mode: SIMPLE, sni: reviews.shop, caCertificates: /etc/certs/ca.pem}
            proxyProtocol: {version: V2}
            portLevelSettings:
            - port: {number: 9080}
              loadBalancer:
                consistentHash: {useSourceIp: true, minimumRingSize: 1024}
              connectionPool:
                tcp: {maxConnections: 5, connectTimeout: 250ms}
              outlierDetection: {consecutive5xxErrors: 0, interval: 10s}
            - port: {number: 9443}
              tls: {mode: SIMPLE}
          subsets:
          - name: v1
            labels: {version: v1}
          - name: v2
            labels: {version: v2, canary: "true"}
            trafficPolicy:
              loadBalancer: {simple: ROUND_ROBIN}
              connectionPool:
                tcp: {idleTimeout: 2h, tcpKeepalive: {time: 0.5s}}
        """;

    [Fact]
    public void A_rich_destination_rule_survives_a_round_trip()
    {
        var (first, second, _) = RoundTrip(RichDestinationRule, "rich-dr.yaml");

        Assert.Equal(first, second);
        var dr = Assert.IsType<DestinationRule>(Assert.Single(second));
        var policy = dr.Spec.TrafficPolicy!;
        var tcp = policy.ConnectionPool!.Tcp!;
        Assert.Equal(100, tcp.MaxConnections);
        Assert.Equal(Duration.Parse("1500ms"), tcp.ConnectTimeout);
        Assert.Equal(Duration.Parse("90m"), tcp.TcpKeepalive!.Time);
        Assert.Equal(Duration.Parse("75s"), tcp.TcpKeepalive.Interval);
        Assert.Equal(3, tcp.TcpKeepalive.Probes);
        Assert.Equal(Duration.Parse("60m"), tcp.MaxConnectionDuration);
        Assert.True(tcp.IdleTimeout?.IsZero);
        Assert.Equal("LEAST_REQUEST", policy.LoadBalancer!.Simple);
        Assert.NotNull(policy.LoadBalancer.LocalityLbSetting);
        Assert.Equal(Duration.Parse("30s"), policy.LoadBalancer.WarmupDurationSecs);
        Assert.NotNull(policy.ConnectionPool.Http);
        Assert.Equal(Duration.Parse("500ms"), policy.OutlierDetection!.Interval);
        Assert.True(policy.OutlierDetection.SplitExternalLocalOriginErrors);
        Assert.Equal(50, policy.OutlierDetection.MinHealthPercent);
        Assert.Equal("V2", policy.ProxyProtocol!.Version);
        Assert.Equal([9080, 9443], policy.PortLevelSettings.Select(p => p.Port!.Number!.Value));
        Assert.True(policy.PortLevelSettings[0].LoadBalancer!.ConsistentHash!.UseSourceIp);
        Assert.Equal(1024L, policy.PortLevelSettings[0].LoadBalancer!.ConsistentHash!.MinimumRingSize);
        Assert.Equal(0, policy.PortLevelSettings[0].OutlierDetection!.Consecutive5xxErrors);
        Assert.Equal(["v1", "v2"], dr.Spec.Subsets.Select(s => s.Name!));
        Assert.Equal("true", dr.Spec.Subsets[1].Labels["canary"]);
        Assert.Equal(Duration.Parse("2h"), dr.Spec.Subsets[1].TrafficPolicy!.ConnectionPool!.Tcp!.IdleTimeout);
        Assert.Equal(Duration.Parse("500ms"), dr.Spec.Subsets[1].TrafficPolicy!.ConnectionPool!.Tcp!.TcpKeepalive!.Time);
        Assert.Equal(Labels.Of(("app", "reviews"), ("enabled", "true"), ("port", "8080"), ("version", "1.0")), dr.Metadata.Labels);
        Assert.Equal(Labels.Of(("note", "null"), ("empty", ""), ("tilde", "~"), ("star", "*x")), dr.Metadata.Annotations);
        Assert.Equal("42", dr.Metadata.ResourceVersion);
        Assert.Equal(7L, dr.Metadata.Generation);
        Assert.Equal(["."], dr.Spec.ExportTo);
    }

    [Fact]
    public void The_rich_destination_rule_is_valid_so_the_round_trip_covers_a_real_configuration()
    {
        var report = ConfigCheck.Check(RichDestinationRule, "rich-dr.yaml");

        Assert.True(report.Ok, string.Join("; ", report.Errors));
    }

    private const string HttpVirtualService = """
        apiVersion: networking.istio.io/v1alpha3
        kind: VirtualService
        metadata:
          name: web
          namespace: shop
          labels: {flag: "true", off: "false", port: "8080", empty: "", tilde: "~", nullish: "null", yes: "yes", float: "1.5", hex: "0x1F", exp: "1e5", colon: "a: b", hash: "#x", dash: "- x"}
        spec:
          hosts: [web, "*.web.example.com"]
          gateways: [mesh, shop/gw]
          http:
          - name: "true"
            match:
            - uri: {prefix: /api}
              port: 8080
              headers: {x-port: {exact: "8080"}, x-flag: {exact: "true"}, x-null: {exact: "null"}, x-ratio: {regex: '0\.5'}}
              sourceLabels: {app: web}
            - ignoreUriCase: true
              queryParams: {v: {exact: "2"}}
            - null
            route:
            - destination: {host: web, subset: v1, port: {number: 8080}}
              weight: 90
              headers: {request: {set: {x-a: "1", x-b: 2, x-c: "true", x-d: true}}}
            - destination: {host: web, subset: v2}
              weight: 10
            timeout: 1.5s
            retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,reset"}
            fault: {delay: {percentage: {value: 0.1}, fixedDelay: 5s}}
            mirror: {host: mirror}
            mirrorPercentage: {value: 50.0}
            corsPolicy: {allowOrigins: [{exact: "*"}], allowCredentials: false}
            headers: {response: {remove: [x-secret], add: {x-multi: "line1\nline2\n"}}}
          - redirect: {uri: /new, authority: "null", redirectCode: 301}
          - directResponse:
              status: 503
              body:
                string: |
                  unavailable: try later
                  # not a comment
          tcp:
          - match: [{port: 9090, sourceLabels: {version: "1.0", enabled: "false"}}]
            route: [{destination: {host: web}}]
        """;

    [Fact]
    public void A_virtual_service_with_http_rules_and_quoted_look_alikes_survives_a_round_trip()
    {
        var (first, second, yaml) = RoundTrip(HttpVirtualService, "http-vs.yaml");

        Assert.Equal(first, second);
        var vs = Assert.IsType<VirtualService>(Assert.Single(second));
        Assert.Equal("true", vs.Metadata.Labels["flag"]);
        Assert.Equal("8080", vs.Metadata.Labels["port"]);
        Assert.Equal("", vs.Metadata.Labels["empty"]);
        Assert.Equal("~", vs.Metadata.Labels["tilde"]);
        Assert.Equal("null", vs.Metadata.Labels["nullish"]);
        Assert.Equal("a: b", vs.Metadata.Labels["colon"]);
        Assert.Equal("*.web.example.com", vs.Spec.Hosts[1]);
        Assert.Contains("flag: \"true\"", yaml);
        Assert.Contains("port: \"8080\"", yaml);

        var http = vs.Spec.Http[0];
        Assert.Equal("true", http.Name);
        Assert.Equal(new RawScalar("1.5s"), http.Timeout);
        var match = Assert.IsType<RawMap>(http.Match[0]);
        Assert.Equal(new RawScalar("8080"), match["port"]);
        var headers = Assert.IsType<RawMap>(match["headers"]);
        Assert.Equal(new RawScalar("8080", Quoted: true), Assert.IsType<RawMap>(headers["x-port"])["exact"]);
        Assert.Equal(new RawScalar("true", Quoted: true), Assert.IsType<RawMap>(headers["x-flag"])["exact"]);
        Assert.Equal(new RawScalar("null", Quoted: true), Assert.IsType<RawMap>(headers["x-null"])["exact"]);
        Assert.Equal(new RawScalar("null"), http.Match[2]);
        var set = Assert.IsType<RawMap>(Assert.IsType<RawMap>(Assert.IsType<RawMap>(http.Route[0].Headers)["request"])["set"]);
        Assert.Equal(new RawScalar("true", Quoted: true), set["x-c"]);
        Assert.Equal(new RawScalar("true"), set["x-d"]);
        Assert.Equal([90, 10], http.Route.Select(r => r.Weight!.Value));
        Assert.Equal("v2", http.Route[1].Destination!.Subset);
        var body = Assert.IsType<RawMap>(Assert.IsType<RawMap>(vs.Spec.Http[2].DirectResponse)["body"]);
        Assert.Equal(new RawScalar("unavailable: try later\n# not a comment\n", Quoted: true), body["string"]);
        Assert.Equal("false", vs.Spec.Tcp[0].Match[0]!.SourceLabels["enabled"]);
    }

    [Fact]
    public void Encoding_writes_only_what_is_set()
    {
        Resource service = new Service { ApiVersion = "v1", Metadata = new ObjectMeta { Name = "svc" } };

        var yaml = ManifestEncoder.ToYaml([service]);

        Assert.Equal(service, Assert.Single(DecodeOk(yaml, "encoded")));
        Assert.DoesNotContain("clusterIP", yaml);
        Assert.DoesNotContain("ports", yaml);
        Assert.DoesNotContain("labels", yaml);
    }

    [Fact]
    public void An_empty_plain_raw_value_survives_a_round_trip()
    {
        var manifest = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [a]\n  http:\n  - timeout:\n    route: [{destination: {host: a}}]\n";

        var (first, second, _) = RoundTrip(manifest, "empty-raw.yaml");

        Assert.Equal(first, second);
    }

    [Fact]
    public void A_quoted_merge_key_survives_a_round_trip()
    {
        var manifest = "apiVersion: v1\nkind: Service\nmetadata: {name: a, annotations: {'<<': x}}\n";

        var (first, second, _) = RoundTrip(manifest, "merge-key.yaml");

        Assert.Equal(first, second);
    }

    /// <summary>As a configuration travels and is journaled inside the cluster: typed resources as the serializer's JSON.</summary>
    private static IReadOnlyList<Resource> ThroughTheCluster(IReadOnlyList<Resource> resources, out string json)
    {
        var bytes = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new ConfigContent(9, resources), ModelJson.Options);
        json = System.Text.Encoding.UTF8.GetString(bytes);
        return System.Text.Json.JsonSerializer.Deserialize<ConfigContent>(bytes, ModelJson.Options)!.Resources;
    }

    [Fact]
    public void Every_example_and_the_rich_manifests_travel_the_cluster_as_typed_resources_unchanged()
    {
        var all = ExamplePaths().SelectMany(path => DecodeOk(File.ReadAllText(Repo.Path(path)), path))
            .Concat(DecodeOk(RichDestinationRule, "rich-dr.yaml")).Concat(DecodeOk(HttpVirtualService, "http-vs.yaml"))
            .Concat(DecodeOk("""
                apiVersion: networking.istio.io/v1
                kind: ServiceEntry
                metadata: {name: ext, namespace: shop}
                spec:
                  hosts: [ext.example.com]
                  addresses: [10.9.0.0/24]
                  ports: [{number: 5432, protocol: TCP, name: pg, targetPort: 15432}]
                  location: MESH_EXTERNAL
                  resolution: STATIC
                  endpoints: [{address: 10.9.0.1, ports: {pg: 5433}, labels: {zone: a}, weight: 3}]
                """, "se.yaml")).ToList();
        Assert.Equal(ResourceKinds.Types.Keys.Order(), all.Select(r => r.Kind).Distinct().Order());

        var back = ThroughTheCluster(all, out var json);

        var differs = all.Zip(back, (First, Second) => (First, Second)).FirstOrDefault(p => !p.First.Equals(p.Second));
        Assert.True(differs.First is null, $"{differs.First} does not come back equal: {json}");
        Assert.Equal(all, back);
        Assert.Equal(ModelJson.Hash(all), ModelJson.Hash(back));
        // Our own discriminators, never a .NET type name.
        Assert.Contains("{\"kind\":\"DestinationRule\"", json);
        Assert.Contains("\"raw\":\"m\"", json);
        Assert.DoesNotContain("AkkaL4", json);
        Assert.DoesNotContain("$type", json);
    }

    [Fact]
    public void A_kind_the_cluster_does_not_know_is_refused_and_a_changed_resource_changes_the_hash()
    {
        var service = DecodeOk("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {clusterIP: 10.0.0.1}\n", "a.yaml");
        ThroughTheCluster(service, out var json);

        Assert.ThrowsAny<Exception>(() => System.Text.Json.JsonSerializer.Deserialize<ConfigContent>(json.Replace("\"Service\"", "\"Pod\""), ModelJson.Options));
        var changed = DecodeOk("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {clusterIP: 10.0.0.2}\n", "a.yaml");
        Assert.NotEqual(ModelJson.Hash(service), ModelJson.Hash(changed));
    }

    [Fact]
    public void Labels_in_another_order_hash_the_same_and_hashes_of_two_versions_are_never_compared()
    {
        var xy = DecodeOk("apiVersion: v1\nkind: Service\nmetadata: {name: a, labels: {x: '1', y: '2'}}\nspec: {clusterIP: 10.0.0.1}\n", "xy.yaml");
        var yx = DecodeOk("apiVersion: v1\nkind: Service\nmetadata: {name: a, labels: {y: '2', x: '1'}}\nspec: {clusterIP: 10.0.0.1}\n", "yx.yaml");
        Assert.Equal(xy, yx);
        Assert.Equal(ModelJson.Hash(xy), ModelJson.Hash(yx));
        Assert.StartsWith(ModelJson.HashVersion + ":", ModelJson.Hash(xy));
        var other = DecodeOk("apiVersion: v1\nkind: Service\nmetadata: {name: a, labels: {x: '1', y: '3'}}\nspec: {clusterIP: 10.0.0.1}\n", "other.yaml");
        Assert.True(ModelJson.Differ(ModelJson.Hash(xy), ModelJson.Hash(other)));

        // A bare hash from before versions, or one of a later version: another version, never "other content".
        const string before = "0123456789abcdef0123456789abcdef";
        Assert.Equal("v0", ModelJson.VersionOf(before));
        Assert.Equal("v2", ModelJson.VersionOf("v2:ffff"));
        Assert.Null(ModelJson.VersionOf("unreadable"));
        Assert.False(ModelJson.Differ(ModelJson.Hash(xy), before));
        Assert.False(ModelJson.Differ(ModelJson.Hash(xy), "v2:ffff"));
    }
}
