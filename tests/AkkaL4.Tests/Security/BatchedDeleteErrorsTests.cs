using System.Net;
using System.Text;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Security;

/// <summary>
/// sec14 B1: POST /v1/config/delete listed an error per bad entry, uncapped: a 4 MiB body of them was answered with 97
/// MB of text (3 GiB allocated in the process). Now at most 100 are listed, the rest counted, as a manifest's errors are
/// (since sec15 a batch names at most 10,000 entries, good or bad; the cap on listed errors still matters below that).
/// A real node and its admin API on 127.194.3.x.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", TestCategories.EndToEnd)]
public sealed class BatchedDeleteErrorsTests
{
    [Fact]
    public async Task A_batched_delete_of_bad_entries_lists_at_most_100_errors()
    {
        await using var node = SecurityKit.StartNode("batched-delete-errors", "127.194.3.1", null);
        await using var admin = await AdminServer.StartAsync(node, new IPEndPoint(IPAddress.Parse("127.194.3.1"), ControlPlaneKit.FreePort()), "t");
        using var http = SecurityKit.HttpFrom("127.194.3.100", $"http://{admin.Address}");
        http.Timeout = TimeSpan.FromMinutes(2);
        http.DefaultRequestHeaders.Authorization = new("Bearer", "t");
        var body = new StringBuilder("{\"resources\":[{\"kind\":\"Service\"}");
        // As many as a batch may name (sec15: more are refused by their count, DeleteBatchLimitTests).
        var entries = AdminServer.MaxDeleteBatch;
        for (var i = 1; i < entries; i++) body.Append(",1");
        body.Append("]}");

        using var response = await http.PostAsync("/v1/config/delete", new StringContent(body.ToString(), Encoding.UTF8, "application/json"));
        var answer = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True(answer.Length < 16 * 1024, $"a {body.Length:N0}-byte body of bad entries was answered with {answer.Length:N0} characters");
        Assert.Contains("nothing was deleted: resources[0]: no name; resources[1]: unknown kind", answer);
        Assert.Contains("resources[99]: unknown kind", answer);
        Assert.DoesNotContain("resources[100]", answer);
        Assert.Contains($"and {entries - 100} more not shown (at most 100)", answer);
    }
}
