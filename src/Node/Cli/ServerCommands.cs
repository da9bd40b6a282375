using System.CommandLine;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;

namespace AkkaL4.Node.Cli;

/// <summary>The verbs that talk to a running node's admin API: apply, get, delete, status.</summary>
internal static class ServerCommands
{
    public const int Unreachable = 3;

    public static Option<string> Server()
    {
        var option = new Option<string>("--server")
        {
            Description = "The node's admin API, http(s)://HOST:PORT (an IP as plain text: http://127.0.0.010 would be 127.0.0.8, and is refused). "
                          + "Default: $AKKAL4_SERVER, else http://127.0.0.1:15000.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_SERVER") ?? "http://127.0.0.1:15000",
        };
        HttpUrl(option);
        return option;
    }

    /// <summary>A usage error (exit 2, one line), not a stack trace: localhost:15000 has no scheme.</summary>
    public static void HttpUrl(Option option) => option.Validators.Add(result =>
    {
        var value = result.GetValueOrDefault<string?>();
        if (value is null) return;
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
            result.AddError($"--server '{value}' is not an http:// or https:// URL (e.g. http://127.0.0.1:15000)");
        // sec19: System.Uri reads http://127.0.0.010:15000 as 127.0.0.8, and the request (the admin token with it) would go there.
        else if (AddressText.Refusal(HostAsWritten(value), "send the request (and the admin token) to", "akkal4") is { } misread)
            result.AddError($"--server '{value}': {misread}");
    });

    /// <summary>
    /// The host of an absolute http(s) URL as written: <see cref="Uri.Host"/> is the address as Uri read it (127.0.0.8 for
    /// 127.0.0.010), so the text a person wrote is cut out of the URL itself.
    /// </summary>
    internal static string HostAsWritten(string url)
    {
        // Uri takes '\\' for '/' in http URLs, and ends the authority at a path, query or fragment.
        var start = url.IndexOf(':') + 1;
        while (start < url.Length && url[start] is '/' or '\\') start++;
        var authority = url[start..];
        if (authority.IndexOfAny(['/', '\\', '?', '#']) is var end and >= 0) authority = authority[..end];
        return AddressText.HostOf(authority[(authority.LastIndexOf('@') + 1)..]);
    }

    public static Option<string?> Token()
    {
        var option = new Option<string?>("--token")
        {
            Description = "Bearer token of the admin API (default: $AKKAL4_ADMIN_TOKEN).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AKKAL4_ADMIN_TOKEN"),
        };
        option.Validators.Add(given => { if (!given.Implicit) RunCommand.WarnVisible(option.Name, "AKKAL4_ADMIN_TOKEN"); });
        return option;
    }

    public static Command Apply()
    {
        var files = CommonOptions.Files();
        var server = Server();
        var token = Token();
        var wait = new Option<bool>("--wait") { Description = "Answer only once every reachable node routes by the new revision (or say which lag after 10s)." };
        var dryRun = new Option<string>("--dry-run")
        {
            Description = "server: the cluster's config writer checks and compiles the change against the stored configuration and says what would change, " +
                          "journaling nothing; none (the default): apply it. Offline checks are `akkal4 validate`.",
            DefaultValueFactory = _ => "none",
        };
        dryRun.AcceptOnlyFromAmong("none", "server");
        var command = new Command("apply", "Create or update resources on a running cluster (kubectl apply semantics, all or nothing). " +
                                           "Exit code 0 when applied (or, with --dry-run=server, when it would be), 1 when rejected (errors printed as by validate), 3 when the node is unreachable.")
        {
            files, server, token, wait, dryRun,
        };
        command.SetAction(async (parse, cancel) =>
        {
            if (!CommonOptions.TryReadManifests(parse.GetValue(files)!, out var inputs)) return ExitCodes.Usage;
            var body = string.Join("\n---\n", inputs.Select(i => i.Text));
            var locate = BodyLocations(inputs);
            var dry = parse.GetValue(dryRun) == "server";
            var path = dry ? "/v1/config?dryRun=All" : parse.GetValue(wait) ? "/v1/config?wait=true" : "/v1/config";
            return await Call(parse.GetValue(server)!, parse.GetValue(token), HttpMethod.Put, path,
                new StringContent(body, Encoding.UTF8, "application/yaml"), async response =>
                {
                    using var json = await ReadJson(response, cancel);
                    if (json is null || !response.IsSuccessStatusCode) return PrintErrors(json?.RootElement, response.StatusCode, locate);
                    var root = json.RootElement;
                    if (response.StatusCode == HttpStatusCode.Accepted)
                    {
                        Console.WriteLine($"revision {root.GetProperty("revision").GetInt64()} applied; still catching up: "
                                          + string.Join(", ", root.GetProperty("lagging").EnumerateArray().Select(e => e.GetString())));
                        return ExitCodes.Ok;
                    }
                    // kubectl's dry-run wording: "<resource> created (server dry run)".
                    var suffix = dry ? " (server dry run)" : "";
                    var applied = new HashSet<string>(StringComparer.Ordinal);
                    foreach (var r in root.GetProperty("resources").EnumerateArray())
                    {
                        var key = $"{r.GetProperty("kind").GetString()}/{r.GetProperty("namespace").GetString()}/{r.GetProperty("name").GetString()}";
                        applied.Add(key);
                        Console.WriteLine($"{key} {r.GetProperty("action").GetString()}{suffix}");
                    }
                    PrintWarnings(root, applied, locate, dry);
                    Console.WriteLine(dry ? $"revision {root.GetProperty("revision").GetInt64()} in force; nothing was changed" : $"revision {root.GetProperty("revision").GetInt64()}");
                    return ExitCodes.Ok;
                }, cancel);
        });
        return command;
    }

    /// <summary>
    /// The writer's warnings (about the whole configuration a write leaves): those about the resources <paramref name="sent"/>
    /// (at the file and line of their field), and those the write brought to other resources (the writer marks them new: a
    /// route to a subset a DestinationRule no longer declares, one naming a Gateway deleted); the ones those had before are
    /// only counted, else every write repeats every old warning.
    /// </summary>
    private static void PrintWarnings(JsonElement root, IReadOnlySet<string> sent, Func<string, string>? locate, bool dry)
    {
        var others = 0;
        var said = true;
        foreach (var w in root.GetProperty("warnings").EnumerateArray())
        {
            bool? brought = w.TryGetProperty("new", out var n) && n.ValueKind is JsonValueKind.True or JsonValueKind.False ? n.GetBoolean() : null;
            if (sent.Contains(w.GetProperty("resource").GetString() ?? "")) Console.WriteLine(Line("warning", w, locate));
            else if (brought == true) Console.WriteLine(Line("warning", w, locate) + (dry ? " (would be new)" : " (new)"));
            else
            {
                others++;
                // A node or config writer of an earlier version does not say which are new.
                said &= brought is not null;
            }
        }
        if (others > 0)
            Console.WriteLine($"and {(others == 1 ? "1 warning" : $"{others} warnings")} about other stored resources{(said ? ", as before this write" : "")} "
                              + "(all of them: akkal4 get all -A -o yaml | akkal4 validate -f -)");
    }

    /// <summary>kubectl's short names and plurals (any case): vs, dr, gw, se, we, svc; virtualservices, ...</summary>
    private static readonly Dictionary<string, string> KindAliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["vs"] = "VirtualService", ["virtualservices"] = "VirtualService",
        ["dr"] = "DestinationRule", ["destinationrules"] = "DestinationRule",
        ["gw"] = "Gateway", ["gateways"] = "Gateway",
        ["se"] = "ServiceEntry", ["serviceentries"] = "ServiceEntry",
        ["we"] = "WorkloadEntry", ["workloadentries"] = "WorkloadEntry",
        ["svc"] = "Service", ["services"] = "Service",
    };

    /// <summary>What Tab offers for a kind argument (the [suggest] directive): every kind, short name and plural.</summary>
    private static string[] KindCompletions() => [.. ResourceKinds.Types.Keys, .. KindAliases.Keys];

    /// <summary>A kind as kubectl takes it (name, short name or plural, any case); null when unknown.</summary>
    internal static string? KindOf(string text) =>
        KindAliases.TryGetValue(text, out var alias) ? alias
            : ResourceKinds.Types.Keys.FirstOrDefault(x => string.Equals(x, text, StringComparison.OrdinalIgnoreCase));

    public static Command Get()
    {
        var kind = new Argument<string>("kind")
        {
            Description = "VirtualService (vs), DestinationRule (dr), Gateway (gw), ServiceEntry (se), WorkloadEntry (we), Service (svc), plurals too, or all; KIND/NAME names one.",
        };
        kind.CompletionSources.Add([.. KindCompletions(), "all"]);
        kind.HelpName = "kind"; // else help lists every completion as the argument's name
        var name = new Argument<string?>("name") { Description = "One resource's name.", Arity = ArgumentArity.ZeroOrOne };
        var ns = new Option<string?>("--namespace", "-n") { Description = "The namespace (default: default)." };
        var allNamespaces = new Option<bool>("--all-namespaces", "-A") { Description = "Every namespace." };
        var output = new Option<string>("--output", "-o") { Description = "table (the default), wide, yaml or json.", DefaultValueFactory = _ => "table" };
        output.AcceptOnlyFromAmong("table", "wide", "yaml", "json");
        var server = Server();
        var token = Token();
        var command = new Command("get", "Print stored resources of a running cluster: a table, or YAML or JSON (-o).") { kind, name, ns, allNamespaces, output, server, token };
        command.SetAction(async (parse, cancel) =>
        {
            var k = parse.GetValue(kind)!;
            var one = parse.GetValue(name);
            if (k.Split('/') is [var kindPart, var namePart] && namePart.Length > 0)
            {
                if (one is not null) { Console.Error.WriteLine($"akkal4: give KIND/NAME or KIND NAME, not both ({k} {one})"); return ExitCodes.Usage; }
                (k, one) = (kindPart, namePart);
            }
            var known = k == "all" ? null : KindOf(k);
            if (k != "all" && known is null)
            {
                Console.Error.WriteLine($"akkal4: unknown kind '{k}'; use {string.Join(", ", ResourceKinds.Types.Keys)} (or vs, dr, gw, se, we, svc, plurals) or all");
                return ExitCodes.Usage;
            }
            var query = new List<string>();
            if (known is not null) query.Add("kind=" + known);
            if (!parse.GetValue(allNamespaces)) query.Add("namespace=" + Uri.EscapeDataString(parse.GetValue(ns) ?? "default"));
            var format = parse.GetValue(output)!;
            var request = new HttpRequestMessage(HttpMethod.Get, "/v1/config?" + string.Join("&", query));
            return await Send(parse.GetValue(server)!, parse.GetValue(token), request, async response =>
            {
                var text = await response.Content.ReadAsStringAsync(cancel);
                if (!response.IsSuccessStatusCode) { Console.Error.WriteLine($"akkal4: {(int)response.StatusCode} {text}"); return ExitCodes.Rejected; }
                // kubectl's order: by kind, then namespace, then name.
                var found = Actors.Config.ConfigCheck.Check(text, "server").Resources.Where(r => one is null || r.Metadata.Name == one)
                    .OrderBy(r => r.Kind, StringComparer.Ordinal).ThenBy(r => r.Metadata.Namespace, StringComparer.Ordinal)
                    .ThenBy(r => r.Metadata.Name, StringComparer.Ordinal).ToList();
                if (one is not null && found.Count == 0)
                {
                    // Without -n the namespace is default, as kubectl's: said, since a user of Istio's YAML often means istio-system.
                    var where = parse.GetValue(allNamespaces) ? "in any namespace" : $"in namespace {parse.GetValue(ns) ?? "default"} (-A looks in every namespace)";
                    Console.Error.WriteLine($"akkal4: {known ?? k} {one} not found {where}");
                    return ExitCodes.Rejected;
                }
                Console.Write(format switch
                {
                    "json" => Actors.Config.ManifestEncoder.ToJson(found),
                    "yaml" => Actors.Config.ManifestEncoder.ToYaml(found),
                    _ => known is null
                        ? KindTables(found, format == "wide", parse.GetValue(allNamespaces) ? null : parse.GetValue(ns) ?? "default")
                        : Table(found, format == "wide", parse.GetValue(allNamespaces) ? null : parse.GetValue(ns) ?? "default"),
                });
                return ExitCodes.Ok;
            }, cancel);
        });
        return command;
    }

    /// <summary>kubectl's table of one kind: NAME, AGE, with NAMESPACE first for -A only (<paramref name="ns"/> null: every row of one
    /// namespace would repeat it) and no KIND column (every row would repeat the kind asked for); wide adds the resource version and
    /// what the resource says in short.</summary>
    private static string Table(IReadOnlyList<Resource> resources, bool wide, string? ns)
    {
        var allNamespaces = ns is null;
        if (resources.Count == 0) return allNamespaces ? "No resources found.\n" : $"No resources found in {ns} namespace.\n";
        var rows = resources.Select(r => (IReadOnlyList<string>)(allNamespaces ? [r.Metadata.Namespace] : Array.Empty<string>())
            .Concat([r.Metadata.Name, Age(r.Metadata.CreationTimestamp)])
            .Concat(wide ? [r.Metadata.ResourceVersion ?? "-", Summary(r)] : []).ToList()).ToList();
        return Table([.. allNamespaces ? ["NAMESPACE"] : Array.Empty<string>(), "NAME", "AGE", .. wide ? ["VERSION", "DETAIL"] : Array.Empty<string>()], rows);
    }

    /// <summary>
    /// <c>get all</c> as kubectl prints several kinds: a table per kind, a blank line between, each sorted by namespace and
    /// name, and NAME as kubectl's <c>kind.group/name</c> (<c>virtualservice.networking.istio.io/reviews</c>, <c>service/reviews</c>).
    /// </summary>
    private static string KindTables(IReadOnlyList<Resource> resources, bool wide, string? ns)
    {
        if (resources.Count == 0) return ns is null ? "No resources found.\n" : $"No resources found in {ns} namespace.\n";
        return string.Join("\n", resources.GroupBy(r => r.Kind).Select(kind =>
        {
            var rows = kind.Select(r => (IReadOnlyList<string>)(ns is null ? [r.Metadata.Namespace] : Array.Empty<string>())
                .Concat([$"{QualifiedKind(r.Kind)}/{r.Metadata.Name}", Age(r.Metadata.CreationTimestamp)])
                .Concat(wide ? [r.Metadata.ResourceVersion ?? "-", Summary(r)] : []).ToList()).ToList();
            return Table([.. ns is null ? ["NAMESPACE"] : Array.Empty<string>(), "NAME", "AGE", .. wide ? ["VERSION", "DETAIL"] : Array.Empty<string>()], rows);
        }));
    }

    private static string QualifiedKind(string kind) =>
        kind == ResourceKinds.Service ? "service" : $"{kind.ToLowerInvariant()}.{ResourceKinds.IstioGroup}";

    private static string Age(string? created) =>
        DateTimeOffset.TryParse(created, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at)
            ? Age(DateTimeOffset.UtcNow - at) : "-";

    private static string Age(TimeSpan age)
    {
        return age.TotalDays >= 1 ? $"{(int)age.TotalDays}d" : age.TotalHours >= 1 ? $"{(int)age.TotalHours}h" : age.TotalMinutes >= 1 ? $"{(int)age.TotalMinutes}m" : $"{Math.Max(0, (int)age.TotalSeconds)}s";
    }

    private static string Summary(Resource resource) => resource switch
    {
        VirtualService vs => "hosts: " + string.Join(",", vs.Spec.Hosts),
        DestinationRule dr => "host: " + dr.Spec.Host,
        ServiceEntry se => "hosts: " + string.Join(",", se.Spec.Hosts),
        Service svc => $"clusterIP: {svc.Spec.ClusterIp ?? "-"}, ports: {string.Join(",", svc.Spec.Ports.Select(p => p.TargetPort is { } to ? $"{p.Port}->{to}" : $"{p.Port}"))}",
        WorkloadEntry we => "address: " + we.Spec.Address,
        _ => "",
    };

    public static Command Delete()
    {
        var kind = new Argument<string?>("kind") { Description = "The resource's kind (short names and plurals too), or KIND/NAME.", Arity = ArgumentArity.ZeroOrOne };
        kind.CompletionSources.Add(KindCompletions());
        kind.HelpName = "kind";
        var name = new Argument<string?>("name") { Description = "The resource's name.", Arity = ArgumentArity.ZeroOrOne };
        var ns = new Option<string>("--namespace", "-n") { Description = "Its namespace.", DefaultValueFactory = _ => "default" };
        var files = CommonOptions.Files();
        files.Required = false;
        files.Description = $"Delete every resource these manifests ({CommonOptions.Kinds}) name (kind, namespace, name) in one revision, all or nothing (at most {Admin.AdminServer.MaxDeleteBatch} at a time): "
                            + "nothing is deleted when one of them is not stored (unless --ignore-not-found) or what is left would not be valid.";
        var ignoreNotFound = new Option<bool>("--ignore-not-found")
        {
            Description = "As kubectl's: a resource that is not stored is skipped (and said) instead of failing the delete; the others are deleted "
                          + "in one revision, and when none is stored nothing is written. Exit code 0 either way.",
        };
        var server = Server();
        var token = Token();
        var command = new Command("delete", "Delete resources from a running cluster: KIND NAME, KIND/NAME, or -f FILE. "
                                            + "Exit code 0 when deleted, 1 when refused (nothing deleted), 2 for usage errors, 3 when the node is unreachable.")
        {
            kind, name, ns, files, ignoreNotFound, server, token,
        };
        command.SetAction(async (parse, cancel) =>
        {
            var keys = new List<ResourceKey>();
            if (parse.GetValue(files) is { Length: > 0 } paths)
            {
                if (parse.GetValue(kind) is not null) { Console.Error.WriteLine("akkal4: delete takes KIND NAME or -f FILE, not both"); return ExitCodes.Usage; }
                if (!CommonOptions.TryReadManifests(paths, out var inputs)) return ExitCodes.Usage;
                var report = Actors.Config.ConfigCheck.Check(inputs);
                if (!report.Ok)
                {
                    foreach (var e in report.Errors) Console.Error.WriteLine(e);
                    return ExitCodes.Usage;
                }
                keys.AddRange(report.Resources.Select(r => r.Key));
                // Not split here: each part would be its own revision, and the all-or-nothing promise would be gone.
                if (keys.Count > Admin.AdminServer.MaxDeleteBatch)
                {
                    Console.Error.WriteLine($"akkal4: the manifests name {keys.Count} resources; a delete takes at most {Admin.AdminServer.MaxDeleteBatch} "
                                            + "in one revision: split the batch (delete -f with fewer files at a time; nothing was deleted)");
                    return ExitCodes.Usage;
                }
            }
            else
            {
                var k = parse.GetValue(kind);
                var n = parse.GetValue(name);
                if (k?.Split('/') is [var kindPart, var namePart] && namePart.Length > 0 && n is null) (k, n) = (kindPart, namePart);
                if (k is null || n is null) { Console.Error.WriteLine("akkal4: delete needs KIND NAME, KIND/NAME or -f FILE"); return ExitCodes.Usage; }
                // Said here, as get says it: with --ignore-not-found the node's 404 for an unknown kind would read as a skip.
                if (KindOf(k) is not { } known)
                {
                    Console.Error.WriteLine($"akkal4: unknown kind '{k}'; use {string.Join(", ", ResourceKinds.Types.Keys)} (or vs, dr, gw, se, we, svc, plurals)");
                    return ExitCodes.Usage;
                }
                keys.Add(new ResourceKey(known, parse.GetValue(ns)!, n));
            }
            var ignore = parse.GetValue(ignoreNotFound);
            static string Skipped(string key) => $"{key} not found (skipped: --ignore-not-found)";
            if (keys.Count == 1)
            {
                var key = keys[0];
                var path = $"/v1/config/{Uri.EscapeDataString(key.Kind)}/{Uri.EscapeDataString(key.Namespace)}/{Uri.EscapeDataString(key.Name)}";
                return await Call(parse.GetValue(server)!, parse.GetValue(token), HttpMethod.Delete, path, null, async response =>
                {
                    using var json = await ReadJson(response, cancel);
                    if (ignore && response.StatusCode == HttpStatusCode.NotFound && json?.RootElement.TryGetProperty("error", out _) == true)
                    {
                        Console.WriteLine(Skipped(key.ToString()));
                        return ExitCodes.Ok;
                    }
                    if (json is null || !response.IsSuccessStatusCode) return PrintErrors(json?.RootElement, response.StatusCode);
                    Console.WriteLine($"{key.Kind}/{key.Namespace}/{key.Name} deleted, revision {json.RootElement.GetProperty("revision").GetInt64()}");
                    // An older node answers with the revision alone.
                    if (json.RootElement.TryGetProperty("warnings", out _)) PrintWarnings(json.RootElement, new HashSet<string>(), null, dry: false);
                    return ExitCodes.Ok;
                }, cancel);
            }
            // Several: one write, one revision, all or nothing (one by one, the cluster would run, between them, configurations
            // nobody wrote: a VirtualService naming a Gateway already deleted).
            var body = JsonSerializer.Serialize(new { resources = keys.Select(k => new { kind = k.Kind, @namespace = k.Namespace, name = k.Name }), ignoreNotFound = ignore });
            return await Call(parse.GetValue(server)!, parse.GetValue(token), HttpMethod.Post, "/v1/config/delete",
                new StringContent(body, Encoding.UTF8, "application/json"), async response =>
                {
                    using var json = await ReadJson(response, cancel);
                    if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed && json?.RootElement.TryGetProperty("errors", out _) != true)
                    {
                        Console.WriteLine("error  this node's admin API deletes one resource at a time (an earlier version); nothing was deleted");
                        return ExitCodes.Rejected;
                    }
                    if (json is null || !response.IsSuccessStatusCode)
                    {
                        var exit = PrintErrors(json?.RootElement, response.StatusCode);
                        // A node that skips them answers 200 naming them: one of an earlier version reads the body without the flag.
                        if (ignore && response.StatusCode == HttpStatusCode.NotFound)
                            Console.WriteLine("error  the node did not skip them (it runs a version without --ignore-not-found); nothing was deleted");
                        return exit;
                    }
                    var root = json.RootElement;
                    static string Key(JsonElement r) => $"{r.GetProperty("kind").GetString()}/{r.GetProperty("namespace").GetString()}/{r.GetProperty("name").GetString()}";
                    foreach (var r in root.GetProperty("resources").EnumerateArray()) Console.WriteLine($"{Key(r)} {r.GetProperty("action").GetString()}");
                    var notFound = root.TryGetProperty("notFound", out var nf) ? nf.EnumerateArray().Select(Key).ToList() : [];
                    foreach (var missing in notFound) Console.WriteLine(Skipped(missing));
                    PrintWarnings(root, new HashSet<string>(), null, dry: false);
                    Console.WriteLine(root.GetProperty("resources").GetArrayLength() == 0
                        ? $"nothing was deleted; revision {root.GetProperty("revision").GetInt64()} in force"
                        : $"revision {root.GetProperty("revision").GetInt64()}");
                    return ExitCodes.Ok;
                }, cancel);
        });
        return command;
    }

    public static Command Diff()
    {
        var files = CommonOptions.Files();
        var server = Server();
        var token = Token();
        var command = new Command("diff", "Show how the manifests differ from the stored configuration, as kubectl diff does (exit 0: no difference, 1: some, 2: the manifests are not valid, 3: the node cannot be reached or refused the read).") { files, server, token };
        command.SetAction(async (parse, cancel) =>
        {
            if (!CommonOptions.TryReadManifests(parse.GetValue(files)!, out var inputs)) return ExitCodes.Usage;
            var report = Actors.Config.ConfigCheck.Check(inputs);
            if (!report.Ok)
            {
                foreach (var e in report.Errors) Console.Error.WriteLine(e);
                return ExitCodes.Usage;
            }
            var differ = false;
            foreach (var group in report.Resources.GroupBy(r => (r.Kind, r.Metadata.Namespace)))
            {
                var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/config?kind={group.Key.Kind}&namespace={Uri.EscapeDataString(group.Key.Namespace)}");
                var status = await Send(parse.GetValue(server)!, parse.GetValue(token), request, async response =>
                {
                    var text = await response.Content.ReadAsStringAsync(cancel);
                    if (!response.IsSuccessStatusCode) { Console.Error.WriteLine($"akkal4: {(int)response.StatusCode} {text}"); return ExitCodes.Usage + 1; }
                    var stored = Actors.Config.ConfigCheck.Check(text, "server").Resources.ToDictionary(r => r.Metadata.Name);
                    foreach (var wanted in group)
                    {
                        var before = stored.TryGetValue(wanted.Metadata.Name, out var r) ? Comparable(r) : "";
                        var after = Comparable(wanted);
                        if (before == after) continue;
                        differ = true;
                        Console.Write(UnifiedDiff($"{wanted.Kind}/{wanted.Metadata.Namespace}/{wanted.Metadata.Name}", before, after));
                    }
                    return ExitCodes.Ok;
                }, cancel);
                if (status != ExitCodes.Ok) return status;
            }
            return differ ? 1 : ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>A resource as YAML without what the store sets (resourceVersion, creationTimestamp).</summary>
    private static string Comparable(Resource resource) =>
        Actors.Config.ManifestEncoder.ToYaml([resource with { Metadata = resource.Metadata with { ResourceVersion = null, CreationTimestamp = null } }]);

    /// <summary>Every line of both, in order, marked - (stored only), + (file only) or space, after a longest common subsequence.</summary>
    internal static string UnifiedDiff(string name, string before, string after)
    {
        var a = before.Length == 0 ? [] : before.TrimEnd('\n').Split('\n');
        var b = after.TrimEnd('\n').Split('\n');
        var lcs = new int[a.Length + 1, b.Length + 1];
        for (var i = a.Length - 1; i >= 0; i--)
            for (var j = b.Length - 1; j >= 0; j--)
                lcs[i, j] = a[i] == b[j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
        var sb = new StringBuilder($"--- stored {name}{(a.Length == 0 ? " (absent)" : "")}\n+++ file {name}\n");
        int x = 0, y = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && y < b.Length && a[x] == b[y]) { sb.Append(' ').Append(a[x++]).Append('\n'); y++; }
            else if (y < b.Length && (x == a.Length || lcs[x, y + 1] >= lcs[x + 1, y])) sb.Append('+').Append(b[y++]).Append('\n');
            else sb.Append('-').Append(a[x++]).Append('\n');
        }
        return sb.ToString();
    }

    public static Command Status()
    {
        var server = Server();
        var token = Token();
        var output = CommonOptions.Output();
        output.Description = "text: the node, the config writer, each member with the revision it routes by, this node's listeners and its "
                             + "upstream endpoints failing now or with an error in the last 5 minutes; json: all of GET /v1/status.";
        var command = new Command("status", "Show a node: its cluster members and the revision each routes by, the config writer, what its last-known-good copy on disk holds, its listeners and the upstream endpoints failing now or with an error in the last 5 minutes (-o json: everything).")
        {
            server, token, output,
        };
        command.SetAction(async (parse, cancel) =>
            await Call(parse.GetValue(server)!, parse.GetValue(token), HttpMethod.Get, "/v1/status", null, async response =>
            {
                var text = await response.Content.ReadAsStringAsync(cancel);
                if (!response.IsSuccessStatusCode) { Console.Error.WriteLine($"akkal4: {(int)response.StatusCode} {text}"); return ExitCodes.Rejected; }
                if (parse.GetValue(output) == "json")
                {
                    Console.WriteLine(text);
                    return ExitCodes.Ok;
                }
                using var json = JsonDocument.Parse(text);
                // The node's clock (its Date header) ages the last errors, not this machine's.
                Console.Write(StatusSummary(json.RootElement, response.Headers.Date ?? DateTimeOffset.UtcNow));
                return ExitCodes.Ok;
            }, cancel));
        return command;
    }

    /// <summary>How long <c>status</c> lists a healthy endpoint after its last error.</summary>
    internal static readonly TimeSpan RecentError = TimeSpan.FromMinutes(5);

    /// <summary>/v1/status as a person reads it: a few lines and tables, what an operator checks first; <paramref name="now"/>
    /// (the node's clock) ages the endpoints' last errors.</summary>
    internal static string StatusSummary(JsonElement status, DateTimeOffset now)
    {
        static string Text(JsonElement e, string name) =>
            e.TryGetProperty(name, out var v) ? v.ValueKind switch
            {
                JsonValueKind.String => v.GetString()!,
                JsonValueKind.Null or JsonValueKind.Undefined => "-",
                JsonValueKind.True => "yes",
                JsonValueKind.False => "no",
                _ => v.ToString(),
            } : "-";
        static IEnumerable<JsonElement> Items(JsonElement e, string name) =>
            e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array ? v.EnumerateArray() : [];
        static string Count(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}s";

        var sb = new StringBuilder();
        var membership = status.TryGetProperty("membership", out var m) ? m : default;
        sb.Append($"node {Text(status, "node")} at {Text(status, "address")}: "
                  + (membership.ValueKind == JsonValueKind.Object ? $"{Text(membership, "state")}, {Text(membership, "summary")}" : $"revision {Text(status, "revision")}"))
            .Append('\n');
        if (status.TryGetProperty("revisionFailed", out var failed) && failed.ValueKind != JsonValueKind.Null)
            sb.Append($"revision {failed} FAILED here (still routing on {Text(status, "revision")}): {Text(status, "revisionError")}\n");
        if (status.TryGetProperty("lastKnownGood", out var copy) && copy.ValueKind == JsonValueKind.Object)
        {
            var held = Text(copy, "revision") is var r && r != "-" ? $"revision {r}" : "no revision yet";
            sb.Append(Text(copy, "failed") is var notWritten && notWritten != "-"
                ? $"last-known-good copy NOT WRITTEN: revision {notWritten} failed ({Text(copy, "error")}); the copy on disk holds {held}, "
                  + "which this node would serve if it restarted now; the write is retried\n"
                : $"last-known-good copy on disk: {held}\n");
        }
        var writer = status.TryGetProperty("configWriterState", out var w) ? $"{Text(w, "state")} at revision {Text(w, "revision")}"
                                                                             + (Text(w, "reason") is var why && why != "-" ? $" ({why})" : "") : "-";
        sb.Append($"config writer: {Text(status, "configWriter")}, {writer}\n");
        if (status.TryGetProperty("journal", out var journal) && journal.ValueKind == JsonValueKind.Object && Text(journal, "problem") is var problem && problem != "-")
            sb.Append($"journal {Text(journal, "at")}: CANNOT BE USED from this node (it cannot be the config writer): {problem}\n");
        sb.Append(Table(["MEMBER", "STATUS", "REVISION", "ROLES"], Items(status, "members").Select(x => (IReadOnlyList<string>)
            [Text(x, "address"), Text(x, "status"), Text(x, "revisionFailed") is var f && f != "-" ? $"{Text(x, "revision")} ({f} failed)" : Text(x, "revision"),
             string.Join(",", Items(x, "roles").Select(r => r.GetString()))]).ToList()));
        if (Items(status, "members").Any(x => Text(x, "revision") == "-"))
            sb.Append("REVISION -: that member has reported none yet (a node reports its revision once it has applied one: none before the first write)\n");
        if (Items(status, "unreachable").Select(u => u.ValueKind == JsonValueKind.String ? u.GetString() : u.ToString()).ToList() is { Count: > 0 } unreachable)
            sb.Append($"unreachable: {string.Join(", ", unreachable)}\n");
        var listeners = Items(status, "listeners").Select(x => (IReadOnlyList<string>)
            [Text(x, "address"), Text(x, "bound") == "yes" ? "yes" : $"NO: {Text(x, "error")}", Text(x, "active"), Text(x, "total"), Text(x, "refused")]).ToList();
        sb.Append(listeners.Count == 0 ? "listeners: none (no configuration in force serves one on this node)\n"
            : Table(["LISTENER", "BOUND", "ACTIVE", "TOTAL", "REFUSED"], listeners));
        // Only the endpoints failing now (not healthy, failures in a row) or lately (an error in the last RecentError): a busy
        // node has hundreds of healthy ones, which -o json lists, and the last error of one that recovered is kept for good.
        var upstreams = Items(status, "upstreams").ToList();
        var all = upstreams.SelectMany(u => Items(u, "endpoints").Select(x => (Cluster: u, Endpoint: x))).ToList();
        TimeSpan? ErrorAge(JsonElement e) =>
            e.TryGetProperty("lastErrorAt", out var at) && at.ValueKind == JsonValueKind.String && at.TryGetDateTimeOffset(out var when) ? now - when : null;
        var endpoints = all.Where(e => Text(e.Endpoint, "status") != "healthy" || Text(e.Endpoint, "consecutiveFailures") is not ("-" or "0")
                                       || Text(e.Endpoint, "lastError") != "-" && !(ErrorAge(e.Endpoint) > RecentError))
            .Select(e => (IReadOnlyList<string>)
                [Text(e.Cluster, "cluster"), Text(e.Endpoint, "endpoint"), Text(e.Endpoint, "status"), Text(e.Endpoint, "activeConnections"),
                 Text(e.Endpoint, "consecutiveFailures"),
                 Text(e.Endpoint, "lastError") is var error && error != "-" && ErrorAge(e.Endpoint) is { } age ? $"{error} ({Age(age)} ago)" : error]).ToList();
        if (endpoints.Count > 0) sb.Append(Table(["CLUSTER", "ENDPOINT", "HEALTH", "ACTIVE", "FAILURES", "LAST ERROR"], endpoints));
        if (upstreams.Count > 0)
            sb.Append($"upstreams: {Count(upstreams.Count, "cluster")}, {Count(all.Count, "endpoint")}, {endpoints.Count} failing or with an error in the last {RecentError.TotalMinutes:0} min (-o json for all)\n");
        foreach (var note in Items(status, "notes")) sb.Append($"note: {(note.ValueKind == JsonValueKind.String ? note.GetString() : note.ToString())}\n");
        return sb.ToString();
    }

    /// <summary>Columns padded to their widest cell, three spaces apart, as kubectl prints them.</summary>
    private static string Table(IReadOnlyList<string> header, IReadOnlyList<IReadOnlyList<string>> rows)
    {
        var widths = header.Select((h, i) => rows.Select(r => r[i].Length).Prepend(h.Length).Max()).ToList();
        var sb = new StringBuilder();
        foreach (var row in rows.Prepend(header))
            sb.Append(string.Join("   ", row.Select((cell, i) => i == row.Count - 1 ? cell : cell.PadRight(widths[i])))).Append('\n');
        return sb.ToString();
    }

    private static int _warnedClear;

    /// <summary>Warns once on stderr when the token is about to cross the network unencrypted (http:// to a host not on loopback).</summary>
    private static void WarnIfClear(Uri server)
    {
        if (ClearTokenWarning(server) is { } warning && Interlocked.Exchange(ref _warnedClear, 1) == 0) Console.Error.WriteLine(warning);
    }

    internal static string? ClearTokenWarning(Uri server) =>
        server.Scheme != Uri.UriSchemeHttp || server.IsLoopback ? null
            : $"akkal4: warning: the admin token goes in clear over http:// to {server.Host}, which is not loopback: anyone on the path can read it (serve the admin API over https, --admin-cert)";

    internal static Task<int> Call(string server, string? token, HttpMethod method, string path, HttpContent? content,
        Func<HttpResponseMessage, Task<int>> handle, CancellationToken cancel) =>
        Send(server, token, new HttpRequestMessage(method, path) { Content = content }, handle, cancel);

    internal static async Task<int> Send(string server, string? token, HttpRequestMessage request,
        Func<HttpResponseMessage, Task<int>> handle, CancellationToken cancel)
    {
        using var http = new HttpClient { BaseAddress = new Uri(server), Timeout = TimeSpan.FromSeconds(30) };
        if (!string.IsNullOrEmpty(token))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            WarnIfClear(http.BaseAddress);
        }
        try
        {
            using var response = await http.SendAsync(request, cancel);
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                // A token given and refused is not a token missing: said apart, and where the one sent came from.
                Console.Error.WriteLine(string.IsNullOrEmpty(token)
                    ? "akkal4: the node wants a bearer token (--token or AKKAL4_ADMIN_TOKEN)"
                    : "akkal4: the node refused the bearer token given (--token, else $AKKAL4_ADMIN_TOKEN): it is not the node's --admin-token");
                return ExitCodes.Rejected;
            }
            return await handle(response);
        }
        catch (HttpRequestException e)
        {
            // Said whole: whether anything changed (a write that never arrived changed nothing), and where the address comes from.
            var write = request.Method == HttpMethod.Put || request.Method == HttpMethod.Delete ? "nothing was changed; " : "";
            Console.Error.WriteLine($"akkal4: cannot reach {server}: {e.Message}; {write}is a node's admin API there? (--server URL or $AKKAL4_SERVER; `akkal4 run` serves it on 127.0.0.1:15000 unless --admin says otherwise)");
            return Unreachable;
        }
        catch (TaskCanceledException) when (!cancel.IsCancellationRequested)
        {
            Console.Error.WriteLine($"akkal4: {server} did not answer within 30s");
            return Unreachable;
        }
    }

    /// <summary>The reply as JSON, or null when it is not (an empty body, a proxy's HTML page).</summary>
    private static async Task<JsonDocument?> ReadJson(HttpResponseMessage response, CancellationToken cancel)
    {
        var text = await response.Content.ReadAsStringAsync(cancel);
        try { return text.Length == 0 ? null : JsonDocument.Parse(text); }
        catch (JsonException) { return null; }
    }

    /// <summary>
    /// Where a position in the joined body (the node reports <c>request:LINE:COLUMN</c>) is in the files given: so a syntax
    /// error sent with apply is shown at the file and line, as validate shows it.
    /// </summary>
    internal static Func<string, string> BodyLocations(IReadOnlyList<(string Source, string Text)> inputs)
    {
        var starts = new List<(int Line, string Source)>();
        var line = 1;
        foreach (var (source, text) in inputs)
        {
            starts.Add((line, source));
            line += text.Count(c => c == '\n') + 2; // the "\n---\n" that joins it to the next
        }
        return location =>
        {
            var parts = location.Split(':');
            if (parts is not ["request", var l, var column] || !int.TryParse(l, out var at)) return location;
            var (start, source) = starts.LastOrDefault(s => s.Line <= at);
            return source is null ? location : $"{source}:{at - start + 1}:{column}";
        };
    }

    private static int PrintErrors(JsonElement? reply, HttpStatusCode status, Func<string, string>? locate = null)
    {
        if (reply is not { } root) Console.WriteLine($"error  the node answered {(int)status} {status}");
        else if (root.TryGetProperty("errors", out var errors))
            foreach (var e in errors.EnumerateArray()) Console.WriteLine(Line("error", e, locate));
        else if (root.TryGetProperty("error", out var error)) Console.WriteLine($"error  {error.GetString()}");
        if (status == HttpStatusCode.ServiceUnavailable) return Unreachable;
        return ExitCodes.Rejected;
    }

    private static string Line(string severity, JsonElement d, Func<string, string>? locate = null)
    {
        var field = d.GetProperty("field").GetString();
        var at = d.TryGetProperty("location", out var l) && l.GetString() is { } location && locate is not null ? $" (at {locate(location)})" : "";
        return $"{severity}  {d.GetProperty("resource").GetString()}  {(string.IsNullOrEmpty(field) ? "-" : field)}  {d.GetProperty("message").GetString()}{at}";
    }
}
