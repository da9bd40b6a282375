using System.Net;
using System.Text.Json;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.Node;

/// <summary><c>/openapi.json</c>: valid OpenAPI 3.1 JSON that describes every route the admin API maps, and nothing it does not. Admin on 127.80.0.5.</summary>
[Trait("Category", "EndToEnd")]
public sealed class OpenApiTests
{
    [Fact]
    public async Task The_OpenAPI_document_describes_exactly_the_routes_the_API_serves()
    {
        await using var node = await StartNodeAsync("openapi");
        await using var admin = await AdminServer.StartAsync(node, new IPEndPoint(IPAddress.Parse("127.80.0.5"), 0), null);
        using var http = new HttpClient { BaseAddress = new Uri(admin.Url), Timeout = Patience };

        using var response = await http.GetAsync("/openapi.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.StartsWith("3.1", document.GetProperty("openapi").GetString());
        Assert.False(string.IsNullOrEmpty(document.GetProperty("info").GetProperty("title").GetString()));
        var described = document.GetProperty("paths").EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject().Select(op => $"{op.Name.ToUpperInvariant()} {p.Name}"))
            .Order().ToList();
        // /login is the token middleware's (it answers before routing), so it is not a mapped route.
        var served = admin.Routes.Select(r => $"{r.Method} {r.Path}").Append("POST /login").Order().ToList();
        Assert.Equal(served, described);
        foreach (var operation in document.GetProperty("paths").EnumerateObject().SelectMany(p => p.Value.EnumerateObject()))
            Assert.True(operation.Value.GetProperty("responses").EnumerateObject().Any(), $"{operation.Name} has no responses");
    }

    /// <summary><c>/v1/status</c>'s answer and its schema name the same properties, lastKnownGood's too (it was in the answer
    /// since fix12a, in the document not at all). Node with a data directory (so lastKnownGood is an object); admin on 127.231.1.1.</summary>
    [Fact]
    public async Task The_status_schema_names_exactly_the_properties_of_the_status_answer()
    {
        var directory = TempDirectory();
        try
        {
            await using var node = await StartNodeAsync("openapi-status", directory);
            await using var admin = await AdminServer.StartAsync(node, AddressBlocks.Of(231).At(1, 1, 0), null);
            using var http = new HttpClient { BaseAddress = new Uri(admin.Url), Timeout = Patience };

            var schema = JsonDocument.Parse(await http.GetStringAsync("/openapi.json")).RootElement
                .GetProperty("components").GetProperty("schemas").GetProperty("Status");
            var status = JsonDocument.Parse(await http.GetStringAsync("/v1/status")).RootElement;

            Assert.Equal(Names(status), Names(schema.GetProperty("properties")));
            Assert.Equal(JsonValueKind.Object, status.GetProperty("lastKnownGood").ValueKind);
            Assert.Equal(["error", "failed", "revision"], Names(status.GetProperty("lastKnownGood")));
            Assert.Equal(Names(status.GetProperty("lastKnownGood")), Names(schema.GetProperty("properties").GetProperty("lastKnownGood").GetProperty("properties")));
        }
        finally { DeleteDirectory(directory); }
    }

    private static List<string> Names(JsonElement element) => element.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToList();
}
