using AkkaL4.Tests.DataPlane;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Node;

/// <summary>The README's first command, run as a user would: the whole walkthrough through the real process.</summary>
[Collection(SeedAddressesCollection.Name)]
[Trait("Category", "EndToEnd")]
public class DemoCliTests
{
    [Fact]
    public async Task Demo_once_walks_every_case_and_every_answer_is_right()
    {
        var run = await Akkal4Process.RunAsync(["demo", "--once"], timeout: TimeSpan.FromMinutes(2));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("Every case answered as the walkthrough says.", run.Stdout);
        foreach (var n in Enumerable.Range(1, 6)) Assert.Contains($"Case {n}.", run.Stdout);
        Assert.DoesNotContain("WRONG", run.Stdout);
        Assert.DoesNotContain("[ERROR]", run.Stdout);
        // Case 6 shows the exact smooth 80/20 order: the third of five goes to the gray pod.
        Assert.Contains("expect: hello-gray test   got: hello-gray test   ok", run.Stdout);
    }

    /// <summary>
    /// A SIGTERM while the demo starts its nodes (sent once its upstreams are up, just before the first RouterNode.Start) or
    /// tours ends it: exit 0, "stopped while starting". The demo once listened only after its tour: the signal went to Akka's
    /// own handlers, which shut the nodes' cluster sides down under the start or the tour, or to none (exit 143).
    /// </summary>
    [Fact]
    public async Task A_SIGTERM_while_the_demo_starts_ends_it()
    {
        await using var demo = ServerCliTests.RunningNode.Start("demo");
        await EventuallyAsync(() => demo.Output.Contains("upstreams:", StringComparison.Ordinal),
            () => $"the demo's upstreams are up (output:\n{demo.Output})", TimeSpan.FromSeconds(60));
        var exit = await demo.StopAsync();
        Assert.True(exit == 0, $"exit {exit}, not 0:\n{demo.Output}");
        Assert.Contains("stopped while starting", demo.Output);
        Assert.DoesNotContain("Ctrl+C stops the demo", demo.Output);
    }
}
