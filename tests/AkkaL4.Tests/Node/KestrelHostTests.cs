using System.Diagnostics;
using System.Net;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace AkkaL4.Tests.Node;

/// <summary>The admin API's Kestrel without a host: what it makes, it lets go of when disposed (session 12, mem12).</summary>
[Trait("Category", TestCategories.Unit)]
public sealed class KestrelHostTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(220);

    [Fact]
    public async Task Its_diagnostic_listener_is_disposed_with_it()
    {
        var host = new KestrelHost(o => o.Listen(IPAddress.Parse(Block.Host(105, 1)), 0));
        await host.StartAsync();
        var listener = host.Services.GetRequiredService<DiagnosticListener>();
        Assert.Contains(listener, Live());

        await host.DisposeAsync();

        // A DiagnosticListener stays in the process-wide list of listeners (and every subscriber of it) until disposed.
        Assert.DoesNotContain(listener, Live());
    }

    /// <summary>The listeners not disposed: DiagnosticListener.AllListeners replays them to a new subscriber at once.</summary>
    private static List<DiagnosticListener> Live()
    {
        var seen = new Collector();
        using (DiagnosticListener.AllListeners.Subscribe(seen)) { }
        return seen.Listeners;
    }

    private sealed class Collector : IObserver<DiagnosticListener>
    {
        public List<DiagnosticListener> Listeners { get; } = [];
        public void OnNext(DiagnosticListener value) { lock (Listeners) Listeners.Add(value); }
        public void OnError(Exception error) { }
        public void OnCompleted() { }
    }
}
