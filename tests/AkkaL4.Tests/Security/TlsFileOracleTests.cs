using System.Diagnostics;
using System.Net;
using System.Text;
using AkkaL4.Actors;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Security;

/// <summary>
/// sec13 §9: a DestinationRule's TLS file paths are read by the router nodes that route through it, never by the config
/// writer, whose answer to an API token holder must not say whether a path exists on its host (a dry run did: "does not
/// exist here" for a missing file, nothing for one that exists). A real node and its admin API on 127.194.2.x; the
/// answers for an existing file, a missing one, a directory and a FIFO are the same but for the path.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", TestCategories.EndToEnd)]
public sealed class TlsFileOracleTests : IDisposable
{
    private readonly string _directory = ControlPlaneKit.TempDirectory();

    public void Dispose() => ControlPlaneKit.DeleteDirectory(_directory);

    private static string Rule(string file) => $$"""
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: oracle, namespace: default}
        spec:
          host: oracle.default.svc.cluster.local
          trafficPolicy:
            tls: {mode: MUTUAL, clientCertificate: {{file}}, privateKey: {{file}}, caCertificates: {{file}}}
        """;

    [Fact]
    public async Task A_dry_run_answers_the_same_whether_a_named_file_exists_on_the_writer_or_not()
    {
        var existing = Path.Combine(_directory, "exists.pem");
        File.WriteAllText(existing, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
        var fifo = Path.Combine(_directory, "fifo.pem");
        using (var mk = Process.Start("mkfifo", fifo)) await mk.WaitForExitAsync();
        // All inside the TLS file roots (the test process allows its temporary directory); outside them, the writer refuses
        // by the path alone (TlsFileRootsWriterTests).
        var paths = new[] { existing, Path.Combine(_directory, "missing.pem"), _directory, fifo };

        await using var node = SecurityKit.StartNode("oracle", "127.194.2.1", null);
        await using var admin = await AdminServer.StartAsync(node, new IPEndPoint(IPAddress.Parse("127.194.2.1"), ControlPlaneKit.FreePort()), "oracle-token");
        using var http = SecurityKit.HttpFrom("127.194.2.100", $"http://{admin.Address}");
        http.DefaultRequestHeaders.Authorization = new("Bearer", "oracle-token");

        var answers = new List<string>();
        foreach (var path in paths)
        {
            string body = "";
            await Waits.EventuallyAsync(async () =>
            {
                using var response = await http.PutAsync("/v1/config?dryRun=All", new StringContent(Rule(path), Encoding.UTF8, "application/yaml"));
                body = await response.Content.ReadAsStringAsync();
                // 503 while the node's writer is not up yet; then the dry run's answer.
                return response.StatusCode == HttpStatusCode.OK;
            }, () => $"a dry run is answered 200 (last: {body})", TimeSpan.FromSeconds(45));
            answers.Add(body.Replace(path, "PATH"));
        }

        Assert.All(answers, a => Assert.Equal(answers[0], a));
        Assert.DoesNotContain("does not exist here", answers[0]);
    }
}
