using Microsoft.AspNetCore.Http;

namespace AkkaL4.Node.Admin;

/// <summary>
/// The admin API's routes, matched by hand: a dozen fixed paths (one with three segments taken as values) do not need
/// ASP.NET Core's endpoint routing and minimal-API delegates, whose matcher, request-delegate factory (System.Linq.Expressions
/// compiled per route) and validation are code mapped and type data loaded in every node (bench/README.md, "Memory, session 11").
/// It answers as endpoint routing did: literal segments in any case, a trailing slash allowed, 405 with <c>Allow</c> for a path
/// served under other methods, 404 for any other path.
/// </summary>
internal sealed class AdminEndpoints
{
    /// <summary>A route's handler: the request and the values of the template's <c>{...}</c> segments, in order.</summary>
    public delegate Task<IResult> Handler(HttpContext context, string[] values);

    private readonly List<(string Method, string Path, string[] Segments, Handler Handle)> _routes = [];

    /// <summary>Every route (method, path template), in the order added.</summary>
    public IReadOnlyList<(string Method, string Path)> Routes => _routes.Select(r => (r.Method, r.Path)).ToList();

    public AdminEndpoints Map(string method, string path, Handler handle)
    {
        _routes.Add((method, path, path.Trim('/').Split('/'), handle));
        return this;
    }

    public AdminEndpoints Map(string method, string path, Func<HttpContext, Task<IResult>> handle) =>
        Map(method, path, (context, _) => handle(context));

    public AdminEndpoints Map(string method, string path, Func<HttpContext, IResult> handle) =>
        Map(method, path, (context, _) => Task.FromResult(handle(context)));

    /// <summary>The last step of the pipeline: the matching route's answer, else 405 or 404.</summary>
    public async Task Dispatch(HttpContext context)
    {
        // An asterisk-form target (`OPTIONS *`) arrives as an empty path: no route serves it.
        if (context.Request.Path.Value is not ['/', ..] path)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        var segments = (path.EndsWith('/') && path.Length > 1 ? path[1..^1] : path[1..]).Split('/');
        List<string>? allowed = null;
        foreach (var (method, _, template, handle) in _routes)
        {
            if (Values(template, segments) is not { } values) continue;
            if (!HttpMethods.Equals(method, context.Request.Method))
            {
                (allowed ??= []).Add(method);
                continue;
            }
            var result = await handle(context, values);
            await result.ExecuteAsync(context);
            return;
        }
        if (allowed is null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
        context.Response.Headers.Allow = string.Join(", ", allowed);
    }

    /// <summary>The values of the template's <c>{...}</c> segments when the path matches it, else null.</summary>
    private static string[]? Values(string[] template, string[] segments)
    {
        if (template.Length != segments.Length) return null;
        var values = new List<string>();
        for (var i = 0; i < template.Length; i++)
        {
            if (template[i].StartsWith('{'))
            {
                if (segments[i].Length == 0) return null;
                values.Add(segments[i]);
            }
            else if (!template[i].Equals(segments[i], StringComparison.OrdinalIgnoreCase)) return null;
        }
        return values.ToArray();
    }
}
