using AkkaL4.Tests.Support;
using AkkaL4.Node.Admin;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace AkkaL4.Tests.Node;

/// <summary>
/// The admin API's own route matching answers as ASP.NET Core's endpoint routing did for these routes: literal segments
/// in any case, a trailing slash allowed, template values in order, 405 with Allow for another method, 404 otherwise.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class AdminEndpointsTests
{
    private static readonly IServiceProvider Services = new ServiceCollection().AddLogging().BuildServiceProvider();

    private static AdminEndpoints Endpoints(List<string> served) => new AdminEndpoints()
        .Map("GET", "/v1/status", _ => { served.Add("status"); return Results.Ok(); })
        .Map("PUT", "/v1/config", _ => { served.Add("put"); return Task.FromResult(Results.Ok()); })
        .Map("GET", "/v1/config", _ => { served.Add("get"); return Results.Ok(); })
        .Map("DELETE", "/v1/config/{kind}/{namespace}/{name}", (_, values) =>
        {
            served.Add("delete " + string.Join(" ", values));
            return Task.FromResult(Results.Ok());
        })
        .Map("GET", "/", _ => { served.Add("root"); return Results.Ok(); });

    private static async Task<HttpContext> Send(AdminEndpoints endpoints, string method, string path)
    {
        var context = new DefaultHttpContext { RequestServices = Services };
        context.Request.Method = method;
        context.Request.Path = path;
        await endpoints.Dispatch(context);
        return context;
    }

    [Theory]
    [InlineData("GET", "/v1/status", "status")]
    [InlineData("GET", "/V1/Status/", "status")]
    [InlineData("PUT", "/v1/config", "put")]
    [InlineData("GET", "/v1/config", "get")]
    [InlineData("DELETE", "/v1/config/Gateway/default/web", "delete Gateway default web")]
    [InlineData("GET", "/", "root")]
    public async Task A_route_answers_its_method_and_path(string method, string path, string expected)
    {
        var served = new List<string>();
        var context = await Send(Endpoints(served), method, path);
        Assert.Equal(StatusCodes.Status200OK, context.Response.StatusCode);
        Assert.Equal([expected], served);
    }

    [Fact]
    public async Task A_path_served_under_other_methods_is_405_naming_them()
    {
        var served = new List<string>();
        var context = await Send(Endpoints(served), "POST", "/v1/config");
        Assert.Equal(StatusCodes.Status405MethodNotAllowed, context.Response.StatusCode);
        Assert.Equal("PUT, GET", context.Response.Headers.Allow.ToString());
        Assert.Equal(StatusCodes.Status405MethodNotAllowed, (await Send(Endpoints(served), "HEAD", "/v1/status")).Response.StatusCode);
        Assert.Empty(served);
    }

    [Theory]
    [InlineData("/v1/nothing")]
    [InlineData("/v1/config/Gateway/default")]
    [InlineData("/v1/config/Gateway//web")]
    [InlineData("/v1/config/Gateway/default/web/more")]
    [InlineData("/v1/statusx")]
    public async Task Any_other_path_is_404(string path)
    {
        var served = new List<string>();
        var context = await Send(Endpoints(served), "DELETE", path);
        Assert.Equal(StatusCodes.Status404NotFound, context.Response.StatusCode);
        Assert.Empty(served);
    }

    [Fact]
    public void Routes_lists_every_route_in_order()
    {
        Assert.Equal(
            [("GET", "/v1/status"), ("PUT", "/v1/config"), ("GET", "/v1/config"), ("DELETE", "/v1/config/{kind}/{namespace}/{name}"), ("GET", "/")],
            Endpoints([]).Routes);
    }
}
