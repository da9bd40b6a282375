using System.Net;
using System.Text.Json;
using AkkaL4.Node.Admin;
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
}
