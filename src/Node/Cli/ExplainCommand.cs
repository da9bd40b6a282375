using System.CommandLine;
using System.Net;
using System.Text;
using System.Text.Json;
using AkkaL4.Actors.Config;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;

namespace AkkaL4.Node.Cli;

/// <summary><c>akkal4 explain</c>: where a connection would go, decided offline from manifests or by a running node.</summary>
internal static class ExplainCommand
{
    public static Command Create()
    {
        var files = CommonOptions.Files();
        files.Required = false;
        var output = CommonOptions.Output();
        var server = new Option<string?>("--server") { Description = "Ask a running node (its admin API, http(s)://HOST:PORT) instead of reading manifests: explains on the node's live configuration." };
        ServerCommands.HttpUrl(server);
        var token = ServerCommands.Token();
        var source = new Option<string>("--source", "-s") { Description = "The client's address, IP or IP:PORT.", Required = true };
        var destination = new Option<string>("--destination", "-d") { Description = "The address the client dialled, IP:PORT.", Required = true };
        var sni = new Option<string?>("--sni") { Description = "The TLS server name the client sent, for TLS routes." };
        var nodeLabels = new Option<string?>("--node-labels")
        {
            Description = "The router node's labels (k=v,k=v): Gateways whose selector they satisfy are served. Default: every Gateway is served.",
        };
        var gateway = new Option<string?>("--gateway")
        {
            Description = "Explain as the node serving this Gateway (ns/name): for gateways bound to all addresses, or to pick one of several.",
        };
        var command = new Command("explain",
            "Explain where a connection would be routed: the listener, the matched VirtualService and rule, the weighted " +
            "destinations with their clusters and endpoints, or why it is refused. Offline from manifests (-f), or on a running node's configuration (--server).")
        {
            files, source, destination, sni, nodeLabels, gateway, output, server, token,
        };
        command.SetAction(async (parse, cancel) =>
        {
            if (!TryAddress(parse.GetValue(source)!, portRequired: false, out var src) ||
                !TryAddress(parse.GetValue(destination)!, portRequired: true, out var dst))
                return ExitCodes.Usage;
            if (!TryLabels(parse.GetValue(nodeLabels), out var labels)) return ExitCodes.Usage;
            if (parse.GetValue(server) is { } url)
            {
                // The node explains as itself, from its own configuration: what would pick another identity or input is not used.
                if (parse.GetValue(files) is { Length: > 0 } || parse.GetValue(nodeLabels) is not null || parse.GetValue(gateway) is not null)
                {
                    Console.Error.WriteLine("akkal4: with --server the node explains on its own configuration and labels: -f, --node-labels and --gateway are for explaining from manifests");
                    return ExitCodes.Usage;
                }
                var query = $"/v1/explain?source={Uri.EscapeDataString(parse.GetValue(source)!)}&destination={Uri.EscapeDataString(parse.GetValue(destination)!)}"
                            + (parse.GetValue(sni) is { } s ? "&sni=" + Uri.EscapeDataString(s) : "");
                return await ServerCommands.Call(url, parse.GetValue(token), HttpMethod.Get, query, null, async response =>
                {
                    var text = await response.Content.ReadAsStringAsync(cancel);
                    if (!response.IsSuccessStatusCode)
                    {
                        Console.Error.WriteLine($"akkal4: {(int)response.StatusCode} {text}");
                        return ExitCodes.Rejected;
                    }
                    if (parse.GetValue(output) == "json") Console.WriteLine(text);
                    else
                    {
                        using var json = JsonDocument.Parse(text);
                        Console.WriteLine(LiveText(json.RootElement));
                    }
                    return ExitCodes.Ok;
                }, cancel);
            }
            if (parse.GetValue(files) is not { Length: > 0 } paths)
            {
                Console.Error.WriteLine("akkal4: give manifests with -f, or a running node with --server");
                return ExitCodes.Usage;
            }
            if (!CommonOptions.TryReadManifests(paths, out var inputs)) return ExitCodes.Usage;

            var report = ConfigCheck.Check(inputs);
            if (!report.Ok)
            {
                ValidateCommand.Print(report, parse.GetValue(output) == "json", Console.Out);
                return ExitCodes.Rejected;
            }
            var resources = report.Resources;
            if (parse.GetValue(gateway) is { } gw)
            {
                var chosen = resources.OfType<Gateway>().FirstOrDefault(g => $"{g.Metadata.Namespace}/{g.Metadata.Name}" == gw);
                if (chosen is null)
                {
                    Console.Error.WriteLine($"akkal4: no Gateway {gw} in the given manifests");
                    return ExitCodes.Usage;
                }
                labels = chosen.Spec.Selector;
                resources = resources.Where(r => r is not Gateway || ReferenceEquals(r, chosen)).ToList();
            }
            else if (labels is null)
            {
                // No node identity given: serve every Gateway, so any gateway address can be explained.
                labels = new Labels(resources.OfType<Gateway>().SelectMany(g => g.Spec.Selector).DistinctBy(p => p.Key));
                resources = resources.Select(r => r is Gateway g ? g with { Spec = g.Spec with { Selector = Labels.Empty } } : r).ToList();
            }

            var snapshot = RouteCompiler.Compile(resources, labels);
            var serverName = parse.GetValue(sni) is { } given ? Actors.DataPlane.Preamble.ClientHello.Normalize(given) : null;
            var decision = snapshot.Decide(new IpPort(dst.Address, dst.Port), src.Address, dst.Address, serverName);
            var explanation = Explanation.Of(decision, sni: serverName, sniAsked: true);
            Console.WriteLine(parse.GetValue(output) == "json"
                ? JsonSerializer.Serialize(explanation, new JsonSerializerOptions { WriteIndented = true })
                : explanation.ToText());
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>A running node's explanation (<c>/v1/explain</c>) as <see cref="Explanation.ToText"/> prints one from manifests,
    /// each endpoint that is not healthy with its state.</summary>
    internal static string LiveText(JsonElement e)
    {
        static string Text(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined) ? v.ToString() : "-";
        var sb = new StringBuilder();
        sb.AppendLine($"result:          {Text(e, "result")}");
        sb.AppendLine($"listener:        {Text(e, "listener")}");
        if (Text(e, "gateway") is var gateway && gateway != "-") sb.AppendLine($"gateway:         {gateway}");
        if (e.TryGetProperty("client", out var client) && client.ValueKind == JsonValueKind.Object)
        {
            var labels = client.TryGetProperty("labels", out var l) && l.ValueKind == JsonValueKind.Object
                ? new Labels(l.EnumerateObject().Select(p => KeyValuePair.Create(p.Name, p.Value.ToString()))) : Labels.Empty;
            sb.AppendLine($"client:          {ClientIdentity.Text(Text(client, "name") is var n && n != "-" ? n : null, Text(client, "namespace"), labels)}");
        }
        sb.AppendLine($"virtualService:  {Text(e, "virtualService")}{(Text(e, "rule") is var rule && rule != "-" ? $" rule {rule}" : "")}");
        if (e.TryGetProperty("destinations", out var destinations) && destinations.ValueKind == JsonValueKind.Array)
            foreach (var d in destinations.EnumerateArray())
            {
                var states = d.TryGetProperty("health", out var health) && health.ValueKind == JsonValueKind.Object && health.TryGetProperty("endpoints", out var he)
                    ? he.EnumerateArray().ToDictionary(x => Text(x, "endpoint"), x => Text(x, "status")) : [];
                var endpoints = d.GetProperty("endpoints").EnumerateArray().Select(x => x.GetString() ?? "")
                    .Select(x => states.TryGetValue(x, out var state) && state != "healthy" ? $"{x} ({state})" : x).ToList();
                sb.AppendLine($"destination:     {Text(d, "cluster")} weight {Text(d, "weight")}");
                sb.AppendLine($"  endpoints:     {(endpoints.Count == 0 ? "none" : string.Join(", ", endpoints))}");
            }
        sb.Append($"reason:          {Text(e, "reason")}");
        return sb.ToString();
    }

    internal static bool TryAddress(string text, bool portRequired, out IpPort address)
    {
        if (IpPort.TryParse(text, portRequired, out address)) return true;
        Console.Error.WriteLine(AddressText.Refusal(AddressText.HostOf(text), "explain a connection at") is { } misread
            ? $"akkal4: {misread}"
            : $"akkal4: '{text}' is not {(portRequired ? "IP:PORT" : "an IP or IP:PORT")}");
        return false;
    }

    internal static bool TryLabels(string? text, out Labels? labels)
    {
        labels = null;
        if (string.IsNullOrWhiteSpace(text)) return true;
        var pairs = new List<KeyValuePair<string, string>>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0)
            {
                Console.Error.WriteLine($"akkal4: label '{part}' is not key=value");
                return false;
            }
            pairs.Add(new(part[..eq], part[(eq + 1)..]));
        }
        labels = new Labels(pairs);
        return true;
    }
}
