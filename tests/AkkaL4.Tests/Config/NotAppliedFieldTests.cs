using AkkaL4.Actors.Config;

namespace AkkaL4.Tests.Config;

/// <summary>Fields of Istio 1.30 that AkkaL4 decodes and validates but an L4 router does not apply are warned about, at their policy.</summary>
[Trait("Category", "Unit")]
public class NotAppliedFieldTests
{
    [Fact]
    public void Tls_credential_names_locality_warmup_http_pool_and_http_hash_keys_are_warned_about_where_they_are_set()
    {
        const string manifest = """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: dr, namespace: default}
            spec:
              host: reviews
              trafficPolicy:
                tls: {mode: SIMPLE, credentialName: reviews-ca}
                connectionPool:
                  tcp: {maxConnections: 10}
                  http: {http2MaxRequests: 10}
                loadBalancer:
                  simple: ROUND_ROBIN
                  localityLbSetting: {enabled: true}
                  warmup: {duration: 60s}
              subsets:
              - name: v1
                labels: {version: v1}
                trafficPolicy:
                  loadBalancer:
                    consistentHash: {httpHeaderName: x-user}
              - name: v2
                labels: {version: v2}
                trafficPolicy:
                  loadBalancer:
                    consistentHash: {useSourceIp: true}
            """;
        var report = ConfigCheck.Check(manifest);

        Assert.True(report.Ok, string.Join("; ", report.Errors));
        var top = Assert.Single(report.Warnings, w => w.Field == "spec.trafficPolicy");
        Assert.Equal("not applied by an L4 router: tls.credentialName (no Kubernetes secrets here: give certificate files), connectionPool.http, loadBalancer.localityLbSetting, loadBalancer.warmup", top.Message);
        Assert.Contains(report.Warnings, w => w.Field == "spec.subsets[0].trafficPolicy" && w.Message.Contains("only useSourceIp hashes at L4"));
        // useSourceIp is applied: nothing to say about v2.
        Assert.DoesNotContain(report.Warnings, w => w.Field.StartsWith("spec.subsets[1]", StringComparison.Ordinal));
    }
}
