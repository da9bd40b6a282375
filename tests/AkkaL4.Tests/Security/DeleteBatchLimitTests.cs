using System.Net;
using System.Text;
using System.Text.Json;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Security;

/// <summary>
/// sec14 B1, the part d524437 left: POST /v1/config/delete took any number of well-formed keys (~170,000 in 4 MiB), all
/// sent to the writer as one delete and answered with a diagnostic each. A batch now names at most as many resources as
/// a manifest may hold documents (10,000), refused with 413 before the writer is asked; the CLI says so before sending.
/// A real node and its admin API on 127.196.1.x; the manifests' Services name 127.196.100-140.x (nothing binds them).
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", TestCategories.EndToEnd)]
public sealed class DeleteBatchLimitTests : IDisposable
{
    private static readonly AddressBlock Block = AddressBlocks.Of(196);
    private readonly string _directory = ControlPlaneKit.TempDirectory();

    public void Dispose() => ControlPlaneKit.DeleteDirectory(_directory);

    private static string Body(int keys) => JsonSerializer.Serialize(new
    {
        resources = Enumerable.Range(0, keys).Select(i => new { kind = "Service", @namespace = "default", name = $"missing-{i}" }),
    });

    [Fact]
    public async Task A_delete_naming_more_than_10000_resources_is_refused_with_the_limit_and_the_count()
    {
        await using var node = SecurityKit.StartNode("delete-batch-limit", Block.Host(1, 1), null);
        await using var admin = await AdminServer.StartAsync(node, new IPEndPoint(IPAddress.Parse(Block.Host(1, 1)), ControlPlaneKit.FreePort()), "t");
        using var http = SecurityKit.HttpFrom(Block.Host(1, 100), $"http://{admin.Address}");
        http.Timeout = TimeSpan.FromMinutes(2);
        http.DefaultRequestHeaders.Authorization = new("Bearer", "t");
        var before = node.Routes.Current.Revision;

        using var over = await http.PostAsync("/v1/config/delete", new StringContent(Body(10_001), Encoding.UTF8, "application/json"));
        var answer = await over.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, over.StatusCode);
        Assert.Contains("nothing was deleted: a delete names at most 10000 resources and this one names 10001; split the batch", answer);
        Assert.True(answer.Length < 1024, answer);
        Assert.Equal(before, node.Routes.Current.Revision);

        // At the limit the writer is asked as before: none of them is stored.
        using var at = await http.PostAsync("/v1/config/delete", new StringContent(Body(10_000), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NotFound, at.StatusCode);
    }

    [Fact]
    public async Task Delete_f_of_manifests_naming_more_than_10000_resources_says_so_without_sending()
    {
        // Two files (one holds at most 10,000 documents); no node listens at the server given: the CLI must stop first.
        string Services(int from, int count) => Manifests.Join([.. Enumerable.Range(from, count)
            .Select(i => Manifests.Service($"svc-{i}", Block.Host(100 + i / 250, i % 250 + 1)))]);
        var first = Path.Combine(_directory, "first.yaml");
        var second = Path.Combine(_directory, "second.yaml");
        await File.WriteAllTextAsync(first, Services(0, 5_001));
        await File.WriteAllTextAsync(second, Services(5_001, 5_000));

        var run = await Akkal4Process.RunAsync(["delete", "-f", first, "-f", second, "--server", $"http://{Block.Host(1, 2)}:{ControlPlaneKit.FreePort()}"],
            timeout: TimeSpan.FromMinutes(2));

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("the manifests name 10001 resources; a delete takes at most 10000 in one revision: split the batch", run.Stderr);
        Assert.Contains("nothing was deleted", run.Stderr);
    }
}
