using System.CommandLine;
using AkkaL4.Node.Demo;

namespace AkkaL4.Node.Cli;

/// <summary><c>akkal4 demo</c>: the user's walkthrough, end to end on loopback.</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var caseNumber = new Option<int>("--case")
        {
            Description = "The case left in force after the tour, for you to try by hand (1-6).",
            DefaultValueFactory = _ => 6,
        };
        caseNumber.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 1 or > 6) r.AddError("--case must be 1..6");
        });
        var once = new Option<bool>("--once") { Description = "Exit after the tour: exit code 0 when every answer was right, 1 otherwise." };
        var examples = new Option<string?>("--examples") { Description = "Read the walkthrough's manifests from this directory instead of the built-in copy of examples/seed." };
        var command = new Command("demo",
            "Run the L4 TCP routing walkthrough on loopback: echo upstreams, two router nodes in one cluster (mesh + ingressgateway-1, " +
            "and ingressgateway-2), each case applied in turn and checked with a real client. Then it keeps running for you to try the commands.")
        {
            caseNumber, once, examples,
        };
        command.SetAction(async (parse, cancel) =>
        {
            var manifests = parse.GetValue(examples) is { } dir ? DemoRunner.ManifestsFrom(dir) : DemoRunner.EmbeddedManifests();
            // Listened for before the nodes start, as `run` does: a stop during the start or the tour ends the demo (its nodes
            // leave and stop) once the step under way is done.
            var stopAsked = Shutdown.WaitAsync(cancel);
            await using var demo = new DemoRunner(manifests, Console.Out);
            await demo.StartAsync();
            if (await demo.TourAsync(stopAsked) is not { } allRight)
            {
                Console.WriteLine(Shutdown.StoppedWhileStarting);
                return ExitCodes.Ok;
            }
            Console.WriteLine();
            Console.WriteLine(allRight ? "Every case answered as the walkthrough says." : "Some answers were WRONG (see above).");
            if (parse.GetValue(once)) return allRight ? ExitCodes.Ok : ExitCodes.Rejected;

            var chosen = Walkthrough.Cases[parse.GetValue(caseNumber) - 1];
            await demo.ApplyAsync(chosen);
            demo.PrintTryIt(chosen);
            await stopAsked;
            return ExitCodes.Ok;
        });
        return command;
    }
}
