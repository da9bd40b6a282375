using System.Net;
using System.Text;
using System.Text.Json;
using AkkaL4.Actors;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Model;
using AkkaL4.Node.Admin;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.Security;

/// <summary>
/// What the tests of things the config writer refuses in a write but a stored revision keeps (TLS files outside the roots,
/// misread addresses) share: a node started on a revision stored before, and the warning it logs when it puts one in force.
/// </summary>
internal static class RefusalKit
{
    /// <summary>A node on <paramref name="host"/> serving <paramref name="resources"/> as revision 1, stored in <paramref name="directory"/> before it started.</summary>
    public static RouterNode StartOnStored(string directory, IReadOnlyList<Resource> resources, string name, string host, string hocon = "")
    {
        new LastKnownGood(directory).Save(new ConfigContent(1, resources));
        return RouterNode.Start(new RouterNodeOptions
        {
            Name = $"{name}-{Guid.NewGuid():N}",
            DataDirectory = directory,
            Overrides = $"akka.loglevel = WARNING\nakka.stdout-loglevel = OFF\nakka.remote.dot-netty.tcp {{ hostname = \"{host}\", port = 0 }}\n{hocon}",
        });
    }

    /// <summary><paramref name="node"/> logs a warning containing <paramref name="expected"/> when it puts <paramref name="resources"/> in force as revision 2.</summary>
    public static async Task AssertWarnsWhenAppliedAsync(RouterNode node, IReadOnlyList<Resource> resources, string expected)
    {
        var warnings = SecurityKit.CollectWarnings(node);
        node.Apply(resources, 2);
        await EventuallyAsync(() => Task.FromResult(warnings.Any(w => w.Contains(expected))),
            () => $"a config warning containing \"{expected}\" (seen: {string.Join(" | ", warnings)})", TimeSpan.FromSeconds(10));
        Assert.Equal(2, node.Routes.Current.Revision);
    }
}

/// <summary>
/// A node's admin API with a client from an address of the test's own, holding the token: writes retried while the node's
/// config writer is not up yet (503), a refusal's errors read as "resource  field  message" lines, and /v1/status's notes.
/// </summary>
internal sealed class AdminWrites : IAsyncDisposable
{
    private const string Token = "refusal-token";
    private readonly AdminServer _admin;
    private readonly HttpClient _http;

    private AdminWrites(AdminServer admin, HttpClient http) => (_admin, _http) = (admin, http);

    /// <summary>The admin API of <paramref name="node"/> on <paramref name="host"/>, asked from <paramref name="client"/>.</summary>
    public static async Task<AdminWrites> StartAsync(RouterNode node, string host, string client)
    {
        var admin = await AdminServer.StartAsync(node, new IPEndPoint(IPAddress.Parse(host), FreePort()), Token);
        var http = SecurityKit.HttpFrom(client, $"http://{admin.Address}");
        http.DefaultRequestHeaders.Authorization = new("Bearer", Token);
        return new AdminWrites(admin, http);
    }

    /// <summary>PUT /v1/config (with <paramref name="query"/>, e.g. <c>?dryRun=All</c>): the first answer that is not 503.</summary>
    public async Task<(HttpStatusCode Status, string Body)> PutAsync(string yaml, string query = "")
    {
        (HttpStatusCode, string) last = default;
        await EventuallyAsync(async () =>
        {
            using var response = await _http.PutAsync("/v1/config" + query, new StringContent(yaml, Encoding.UTF8, "application/yaml"));
            var body = await response.Content.ReadAsStringAsync();
            // The errors as lines (the JSON escapes quotes).
            if (response.StatusCode == HttpStatusCode.BadRequest && JsonDocument.Parse(body).RootElement.TryGetProperty("errors", out var errors))
                body = string.Join("\n", errors.EnumerateArray().Select(e => $"{e.GetProperty("resource").GetString()}  {e.GetProperty("field").GetString()}  {e.GetProperty("message").GetString()}"));
            last = (response.StatusCode, body);
            return response.StatusCode != HttpStatusCode.ServiceUnavailable;
        }, () => $"the writer answers (last: {last})", TimeSpan.FromSeconds(45));
        return last;
    }

    /// <summary>The notes of the revision in force, from /v1/status.</summary>
    public async Task<List<string>> NotesAsync()
    {
        using var status = JsonDocument.Parse(await _http.GetStringAsync("/v1/status"));
        return status.RootElement.GetProperty("notes").EnumerateArray().Select(n => n.GetString()!).ToList();
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _admin.DisposeAsync();
    }
}
