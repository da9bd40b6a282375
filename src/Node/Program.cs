using System.CommandLine;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Node.Cli;

// Before anything opens a socket: the runtime reads it once.
InlineCompletions.OneEventThreadPerCore();

var root = new RootCommand($"AkkaL4: a distributed L4 TCP router driven by the resources Istio routes by ({CommonOptions.Kinds}).")
{
    ValidateCommand.Create(),
    ExplainCommand.Create(),
    RunCommand.Create(),
    EchoCommand.Create(),
    DemoCommand.Create(),
    CertCommand.Create(),
    ServerCommands.Apply(),
    ServerCommands.Get(),
    ServerCommands.Delete(),
    ServerCommands.Diff(),
    ServerCommands.Status(),
};

var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (var error in parse.Errors) Console.Error.WriteLine($"akkal4: {error.Message}");
    Console.Error.WriteLine("Run 'akkal4 --help' for usage.");
    return ExitCodes.Usage;
}
return await parse.InvokeAsync();
