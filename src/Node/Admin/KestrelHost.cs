using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;

namespace AkkaL4.Node.Admin;

/// <summary>
/// Kestrel and a middleware pipeline without a host: the services Kestrel's core registers (its transport, options,
/// HTTPS configuration, metrics), logging without providers and a meter factory, and nothing of the generic host or
/// <c>WebApplication</c> (configuration sources, file providers, hosting environment and lifetime, endpoint routing),
/// which the admin API does not use and every node would map and compile (bench/README.md, "Memory, session 11").
/// </summary>
internal sealed class KestrelHost : IAsyncDisposable
{
    /// <summary>How long a stop waits for requests in progress before it aborts them (the generic host's default).</summary>
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(30);

    private readonly ServiceProvider _services;
    private readonly IServer _server;
    private readonly List<IDisposable> _owned = [];

    /// <summary>The request pipeline, built at <see cref="StartAsync"/>.</summary>
    public IApplicationBuilder Pipeline { get; }
    public IServiceProvider Services => _services;

    public KestrelHost(Action<KestrelServerOptions> configure)
    {
        var services = new ServiceCollection();
        services.AddOptions().AddLogging().AddMetrics();
        // As the generic host registers it: Kestrel takes it when it is there.
        var diagnostics = new DiagnosticListener("Microsoft.AspNetCore");
        services.AddSingleton(diagnostics).AddSingleton<DiagnosticSource>(diagnostics);
        // A listener stays in DiagnosticListener.AllListeners until disposed, and DI does not dispose an instance it was given.
        _owned.Add(diagnostics);
        // HTTPS asks for one (for a development certificate's defaults; the API always names its certificate).
        services.AddSingleton<IHostEnvironment>(new Environment());
        new ServicesOnly(services).UseKestrelCore().ConfigureKestrel(configure);
        _services = services.BuildServiceProvider();
        _server = _services.GetRequiredService<IServer>();
        Pipeline = new ApplicationBuilder(_services, _server.Features);
    }

    /// <summary>Disposed once the server has stopped.</summary>
    public void Owns(IDisposable disposable) => _owned.Add(disposable);

    /// <summary>Builds the pipeline, binds and starts; the first address bound (http://IP:PORT).</summary>
    public async Task<Uri> StartAsync()
    {
        await _server.StartAsync(new Application(Pipeline.Build(), _services), CancellationToken.None);
        return new Uri(_server.Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    public async ValueTask DisposeAsync()
    {
        using (var timeout = new CancellationTokenSource(ShutdownTimeout))
            await _server.StopAsync(timeout.Token);
        _server.Dispose();
        foreach (var owned in _owned) owned.Dispose();
        await _services.DisposeAsync();
    }

    /// <summary>Each request's context, its services the root provider (nothing here is scoped).</summary>
    private sealed class Application(RequestDelegate pipeline, IServiceProvider services) : IHttpApplication<HttpContext>
    {
        public HttpContext CreateContext(IFeatureCollection contextFeatures) => new DefaultHttpContext(contextFeatures) { RequestServices = services };
        public Task ProcessRequestAsync(HttpContext context) => pipeline(context);
        public void DisposeContext(HttpContext context, Exception? exception) { }
    }

    private sealed class Environment : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = Environments.Production;
        public string ApplicationName { get; set; } = "akkal4";
        public string ContentRootPath { get; set; } = AppContext.BaseDirectory;
        public IFileProvider ContentRootFileProvider { get; set; } = new NullFileProvider();
    }

    /// <summary>
    /// What Kestrel's registration (<c>UseKestrelCore</c>, <c>ConfigureKestrel</c>) needs of a web host builder: a place for
    /// its services. Nothing else of a host is offered.
    /// </summary>
    private sealed class ServicesOnly(IServiceCollection services) : IWebHostBuilder
    {
        public IWebHostBuilder ConfigureServices(Action<IServiceCollection> configureServices)
        {
            configureServices(services);
            return this;
        }

#pragma warning disable ASPDEPR008 // IWebHost is obsolete, and IWebHostBuilder still names it; never built here.
        public IWebHost Build() => throw new NotSupportedException();
#pragma warning restore ASPDEPR008
        public IWebHostBuilder ConfigureAppConfiguration(Action<WebHostBuilderContext, IConfigurationBuilder> configureDelegate) => throw new NotSupportedException();
        public IWebHostBuilder ConfigureServices(Action<WebHostBuilderContext, IServiceCollection> configureServices) => throw new NotSupportedException();
        public string? GetSetting(string key) => null;
        public IWebHostBuilder UseSetting(string key, string? value) => throw new NotSupportedException();
    }
}
