using System.CommandLine;
using System.Net;
using AkkaL4.Node.Echo;

namespace AkkaL4.Node.Cli;

/// <summary><c>akkal4 echo</c>: a tcp-echo-server upstream for demos and tests.</summary>
internal static class EchoCommand
{
    public static Command Create()
    {
        var listen = new Option<string>("--listen", "-l") { Description = "Address to listen on, IP:PORT.", Required = true };
        var prefix = new Option<string>("--prefix", "-p") { Description = "Text put before each echoed line.", DefaultValueFactory = _ => "hello" };
        var command = new Command("echo", "Run a TCP echo upstream like istio/tcp-echo-server: every line received is answered with '<prefix> <line>'.")
        {
            listen, prefix,
        };
        command.SetAction(async (parse, cancel) =>
        {
            if (!IPEndPoint.TryParse(parse.GetValue(listen)!, out var address) || address.Port == 0)
            {
                Console.Error.WriteLine($"akkal4: --listen '{parse.GetValue(listen)}' is not IP:PORT");
                return ExitCodes.Usage;
            }
            if (Actors.Routing.AddressText.Refusal(Actors.Routing.AddressText.HostOf(parse.GetValue(listen)!), "listen on") is { } misread)
            {
                Console.Error.WriteLine($"akkal4: --listen {misread}");
                return ExitCodes.Usage;
            }
            await using var server = new EchoServer(address, parse.GetValue(prefix)!);
            Console.WriteLine($"echo: listening on {server.Address}, answering '{server.Prefix} <line>'; Ctrl+C stops");
            await Shutdown.WaitAsync(cancel);
            return ExitCodes.Ok;
        });
        return command;
    }
}
