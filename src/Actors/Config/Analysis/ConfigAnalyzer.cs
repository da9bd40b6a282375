using System.Text;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Config.Analysis;

/// <summary>
/// Warnings about a valid configuration that will not do what its author probably meant, like
/// <c>istioctl analyze</c>: hosts that match no service, subsets nobody declares, http rules an L4
/// router does not apply, source conditions that gateways ignore, rules that can never match (behind a rule that takes every
/// connection they could match, in their own VirtualService or an earlier one, for mesh traffic or at a gateway:
/// <see cref="ShadowedRules"/>), tcp match blocks no connection can satisfy (<see cref="UnmatchableBlocks"/>), TCP servers whose
/// listener a TLS server makes a TLS one (<see cref="TlsTakenListeners"/>), legacy gateway names, and workloads whose client
/// address another workload's identity takes (<see cref="SharedClientAddresses"/>).
/// </summary>
public static class ConfigAnalyzer
{
    public static IReadOnlyList<Diagnostic> Analyze(IReadOnlyCollection<Resource> resources) => Analyze(resources, new WorkCounts());

    /// <param name="work">Adds what the checks looked at (<see cref="WorkCounts"/>): <see cref="WorkCounts.Hosts"/> the known
    /// service hosts and DestinationRules of the host and subset checks (every host against every service was N × N), and
    /// the walks' counts.</param>
    internal static IReadOnlyList<Diagnostic> Analyze(IReadOnlyCollection<Resource> resources, WorkCounts work)
    {
        var warnings = new List<Diagnostic>();
        var serviceHosts = new KnownHosts(resources);
        var rules = new DestinationRules(resources.OfType<DestinationRule>().ToList());

        foreach (var dr in rules.All)
        {
            if (dr.Spec.Host is not { } host) continue;
            var expanded = HostName.Expand(host, dr.Metadata.Namespace);
            if (!serviceHosts.Means(expanded))
            {
                var subsets = dr.Spec.Subsets.Select(s => s.Name).OfType<string>().ToList();
                warnings.Add(Diagnostic.Warning(dr.Key.ToString(), "spec.host",
                    $"host {Describe(host, expanded)} matches no known service{serviceHosts.Suggest(expanded)}"
                    + subsets.Count switch { 0 => "", 1 => $"; its subset {subsets[0]} applies to nothing", _ => $"; its subsets {string.Join(", ", subsets)} apply to nothing" }));
            }
        }

        foreach (var dr in rules.All) NotApplied(dr, warnings);
        var gateways = resources.OfType<Gateway>().GroupBy(g => $"{g.Metadata.Namespace}/{g.Metadata.Name}").ToDictionary(g => g.Key, g => g.First());
        var shadowed = ShadowedRules.Find(resources, work);
        var unmatchable = UnmatchableBlocks.Find(resources, work);
        foreach (var vs in resources.OfType<VirtualService>()) AnalyzeVirtualService(vs, serviceHosts, rules, gateways, shadowed, unmatchable, warnings);
        SharedClientAddresses.Find(resources, warnings);
        warnings.AddRange(TlsTakenListeners.Find(resources, work));
        work.Hosts += serviceHosts.Visits + rules.Visits;
        return warnings;
    }

    /// <summary>
    /// What is no mistake but may surprise on a router node, said as a note (not counted as a warning): a served Gateway server
    /// without <c>bind</c> listens on every address of the host, as Istio's gateways do, beside the node's Service addresses.
    /// </summary>
    public static IReadOnlyList<Diagnostic> Notes(IReadOnlyCollection<Resource> resources)
    {
        var notes = new List<Diagnostic>();
        foreach (var gw in resources.OfType<Gateway>())
            for (var i = 0; i < gw.Spec.Servers.Count; i++)
            {
                var server = gw.Spec.Servers[i];
                if (!string.IsNullOrEmpty(server.Bind) || server.Port is not { Number: > 0 and var port } || server.Port.Protocol?.ToUpperInvariant() is not ("TCP" or "TLS")) continue;
                var selector = string.Join(", ", gw.Spec.Selector.Select(l => $"{l.Key}={l.Value}"));
                notes.Add(Diagnostic.Warning(gw.Key.ToString(), $"spec.servers[{i}]",
                    $"no bind: nodes whose --labels include {(selector.Length == 0 ? "anything (no selector)" : selector)} listen on every address "
                    + $"of their host (0.0.0.0:{port}), as Istio's gateways do; give bind: ADDRESS to listen on one"));
            }
        return notes;
    }

    /// <summary>DestinationRule fields Istio 1.30 knows and AkkaL4 validates, but an L4 router does not apply.</summary>
    private static void NotApplied(DestinationRule dr, List<Diagnostic> warnings)
    {
        var policies = new List<(string Path, LoadBalancerSettings? Lb, ConnectionPoolSettings? Pool, ClientTlsSettings? Tls, TrafficPolicy? Top)>();
        void Add(string path, TrafficPolicy? p)
        {
            if (p is null) return;
            policies.Add((path, p.LoadBalancer, p.ConnectionPool, p.Tls, p));
            for (var i = 0; i < p.PortLevelSettings.Count; i++)
            {
                var pls = p.PortLevelSettings[i];
                policies.Add(($"{path}.portLevelSettings[{i}]", pls.LoadBalancer, pls.ConnectionPool, pls.Tls, null));
            }
        }
        Add("spec.trafficPolicy", dr.Spec.TrafficPolicy);
        for (var i = 0; i < dr.Spec.Subsets.Count; i++) Add($"spec.subsets[{i}].trafficPolicy", dr.Spec.Subsets[i].TrafficPolicy);

        foreach (var (path, lb, pool, tls, top) in policies)
        {
            var fields = new List<string>();
            if (tls is { Mode: "SIMPLE" or "MUTUAL", CredentialName: { Length: > 0 } }) fields.Add("tls.credentialName (no Kubernetes secrets here: give certificate files)");
            if (lb?.Simple == "PASSTHROUGH")
                fields.Add("loadBalancer.simple PASSTHROUGH (the original destination needs transparent interception; endpoints are picked by LEAST_REQUEST)");
            if (pool?.Http is not null) fields.Add("connectionPool.http");
            if (lb?.LocalityLbSetting is not null) fields.Add("loadBalancer.localityLbSetting");
            if (lb?.Warmup is not null) fields.Add("loadBalancer.warmup");
            if (lb?.WarmupDurationSecs is not null) fields.Add("loadBalancer.warmupDurationSecs");
            if (lb?.ConsistentHash is { } hash)
            {
                if (hash.HttpHeaderName is not null || hash.HttpCookie is not null || hash.HttpQueryParameterName is not null)
                    fields.Add("loadBalancer.consistentHash http keys (only useSourceIp hashes at L4)");
                if (hash.RingHash is not null || hash.Maglev is not null || hash.MinimumRingSize is not null)
                    fields.Add("loadBalancer.consistentHash ringHash/maglev (AkkaL4 hashes by rendezvous)");
            }
            if (top?.Tunnel is not null) fields.Add("tunnel");
            if (top?.RetryBudget is not null) fields.Add("retryBudget");
            if (fields.Count > 0)
                warnings.Add(Diagnostic.Warning(dr.Key.ToString(), path, $"not applied by an L4 router: {string.Join(", ", fields)}"));
        }
    }

    private static void AnalyzeVirtualService(VirtualService vs, KnownHosts serviceHosts, DestinationRules rules,
        IReadOnlyDictionary<string, Gateway> gatewaysByKey, IReadOnlyDictionary<(ResourceKey, int), string> shadowed,
        IReadOnlyDictionary<(ResourceKey, int, int), (string Field, string Why)> unmatchable, List<Diagnostic> warnings)
    {
        var name = vs.Key.ToString();
        var ns = vs.Metadata.Namespace;
        void Warn(string field, string message) => warnings.Add(Diagnostic.Warning(name, field, message));

        // Bound to gateways only, its hosts are the names clients ask the gateway for (an SNI), not services: they must be
        // admitted by a server of those gateways instead (istioctl analyze's VirtualServiceHostNotFoundInGateway).
        var meshBound = vs.Spec.Gateways.IsEmpty || vs.Spec.Gateways.Contains("mesh");
        for (var i = 0; meshBound && i < vs.Spec.Hosts.Count; i++)
        {
            var host = vs.Spec.Hosts[i];
            if (host == "*") continue;
            var expanded = HostName.Expand(host, ns);
            if (!serviceHosts.Means(expanded))
                Warn($"spec.hosts[{i}]", $"host {Describe(host, expanded)} matches no known service{serviceHosts.Suggest(expanded)}");
        }

        for (var i = 0; i < vs.Spec.Gateways.Count; i++)
        {
            var reference = vs.Spec.Gateways[i];
            LegacyGateway(reference, $"spec.gateways[{i}]", Warn);
            if (reference == "mesh") continue;
            var key = RouteCompiler.ResolveGateway(reference, ns);
            var named = Named(reference, key);
            if (!gatewaysByKey.TryGetValue(key, out var gateway))
                Warn($"spec.gateways[{i}]", $"gateway {named} is no Gateway of this configuration: nothing is routed through it");
            else if (!gateway.Spec.Servers.Any(server => RouteCompiler.AdmitsHost(gateway, server, vs)))
                Warn($"spec.gateways[{i}]", $"no server of gateway {named} admits the hosts of this VirtualService (its servers' hosts: "
                                            + $"{string.Join(", ", gateway.Spec.Servers.SelectMany(s => s.Hosts).Distinct())}): nothing is routed through it");
        }

        // A block's own gateways narrow the VirtualService's (spec.gateways, default mesh); they do not bind it to more, so a
        // gateway named only there sees none of its rules.
        var bound = (vs.Spec.Gateways.IsEmpty ? new[] { "mesh" } : vs.Spec.Gateways.AsEnumerable()).Select(g => g == "mesh" ? g : RouteCompiler.ResolveGateway(g, ns)).ToHashSet();
        void MatchGateways(string mpath, Seq<string> blockGateways)
        {
            for (var g = 0; g < blockGateways.Count; g++)
            {
                var reference = blockGateways[g];
                var path = $"{mpath}.gateways[{g}]";
                LegacyGateway(reference, path, Warn);
                var key = reference == "mesh" ? reference : RouteCompiler.ResolveGateway(reference, ns);
                if (bound.Contains(key)) continue;
                if (key != "mesh" && !gatewaysByKey.ContainsKey(key))
                    Warn(path, $"gateway {Named(reference, key)} is no Gateway of this configuration: this block matches nothing through it");
                else
                    Warn(path, $"{(key == "mesh" ? "mesh" : $"gateway {Named(reference, key)}")} is not in this VirtualService's gateways "
                               + $"({(vs.Spec.Gateways.IsEmpty ? "none given: mesh" : string.Join(", ", vs.Spec.Gateways))}), so it does not see this rule: "
                               + "this block matches nothing through it (add it to spec.gateways)");
            }
        }

        var destinations = new List<(string Path, Destination Destination, bool Http)>();
        string? catchAll = null;
        for (var r = 0; r < vs.Spec.Tcp.Count; r++)
        {
            var rule = vs.Spec.Tcp[r];
            var path = $"spec.tcp[{r}]";
            // The walk's finding first: it knows the services' ports and addresses and the gateways' servers. A catch-all of this
            // VirtualService hides the rule wherever it is evaluated, walked or not (a host matching no service, say).
            if (shadowed.TryGetValue((vs.Key, r), out var behind)) Warn(path, behind);
            else if (catchAll is not null)
                Warn(path, $"this rule can never match: {catchAll} before it matches every connection");
            for (var m = 0; m < rule.Match.Count; m++)
            {
                if (rule.Match[m] is not { } match) continue;
                var mpath = $"{path}.match[{m}]";
                MatchGateways(mpath, match.Gateways);
                if (unmatchable.TryGetValue((vs.Key, r, m), out var dead))
                    Warn(dead.Field.Length == 0 ? mpath : $"{mpath}.{dead.Field}", $"this block matches no connection: {dead.Why}"
                        + (Enumerable.Range(0, rule.Match.Count).All(b => unmatchable.ContainsKey((vs.Key, r, b)))
                            ? (rule.Match.Count == 1 ? ", so this rule never matches" : "; no block of this rule can match, so the rule never does")
                            : "; the rule's other blocks still can"));
                var gateways = match.Gateways.IsEmpty ? vs.Spec.Gateways : match.Gateways;
                var atGateway = gateways.Any(g => g != "mesh");
                var sourceConditions = new List<string>();
                if (!match.SourceLabels.IsEmpty) sourceConditions.Add("sourceLabels");
                if (match.SourceNamespace is not null) sourceConditions.Add("sourceNamespace");
                if (!match.DestinationSubnets.IsEmpty) sourceConditions.Add("destinationSubnets");
                if (atGateway && sourceConditions.Count > 0)
                    Warn(mpath, $"{string.Join(", ", sourceConditions)} {(sourceConditions.Count == 1 ? "is" : "are")} ignored for traffic through gateways "
                               + $"({string.Join(", ", gateways.Where(g => g != "mesh"))}); this block matches every gateway connection on its port");
            }
            if (catchAll is null && (rule.Match.IsEmpty || rule.Match.Any(IsUnconditional)))
                catchAll = path;
            for (var d = 0; d < rule.Route.Count; d++)
                if (rule.Route[d].Destination is { } dest) destinations.Add(($"{path}.route[{d}].destination", dest, false));
        }
        for (var r = 0; r < vs.Spec.Tls.Count; r++)
        {
            for (var m = 0; m < vs.Spec.Tls[r].Match.Count; m++)
                if (vs.Spec.Tls[r].Match[m] is { } match) MatchGateways($"spec.tls[{r}].match[{m}]", match.Gateways);
            for (var d = 0; d < vs.Spec.Tls[r].Route.Count; d++)
                if (vs.Spec.Tls[r].Route[d].Destination is { } dest) destinations.Add(($"spec.tls[{r}].route[{d}].destination", dest, false));
        }
        for (var r = 0; r < vs.Spec.Http.Count; r++)
            for (var d = 0; d < vs.Spec.Http[r].Route.Count; d++)
                if (vs.Spec.Http[r].Route[d].Destination is { } dest) destinations.Add(($"spec.http[{r}].route[{d}].destination", dest, true));

        foreach (var (path, destination, http) in destinations)
        {
            if (destination.Host is not { } host) continue;
            // An http rule routes nothing here (said once at spec.http): what its destination would do is for its tcp form.
            var closed = http ? "the tcp form of this http rule would close connections routed here (NC)" : "connections routed here are closed (NC)";
            var expanded = HostName.Expand(host, ns);
            if (!serviceHosts.Means(expanded))
                Warn($"{path}.host", $"destination host {Describe(host, expanded)} matches no known service; {closed}{serviceHosts.Suggest(expanded)}");
            if (destination.Subset is { } subset) CheckSubset(path, host, expanded, subset, closed, rules, Warn);
        }

        if (!vs.Spec.Http.IsEmpty)
            Warn("spec.http", "http rules are not applied by an L4 router: AkkaL4 routes TCP connections by tcp/tls rules only. "
                              + "The tcp form of these rules would be: " + TcpFormOf(vs.Spec.Http) + LeftOut(vs.Spec.Http));
    }

    private static bool IsUnconditional(L4MatchAttributes? m) => m is not null && m.Port is null or 0 && m.SourceLabels.IsEmpty
        && m.SourceNamespace is null && m.DestinationSubnets.IsEmpty && m.Gateways.IsEmpty;

    private static void CheckSubset(string path, string host, string expanded, string subset, string closed, DestinationRules rules, Action<string, string> warn)
    {
        if (rules.For(expanded).Any(dr => dr.Spec.Subsets.Any(s => s.Name == subset))) return;
        // None of the rules for this host declares it: every one that does is for another host.
        var elsewhere = rules.Declaring(subset);
        var message = $"subset '{subset}' of {Describe(host, expanded)} is declared by no DestinationRule for that host; {closed}";
        if (elsewhere.Count > 0)
            message += $". {string.Join(", ", elsewhere.Take(3).Select(dr => $"DestinationRule {dr.Metadata.Namespace}/{dr.Metadata.Name}"))}"
                       + (elsewhere.Count > 3 ? $" and {elsewhere.Count - 3} more declare" : " declares") + $" '{subset}' "
                       + $"but for host '{elsewhere[0].Spec.Host}', which is not {expanded}";
        warn($"{path}.subset", message);
    }

    /// <summary>The DestinationRules, by the hosts they cover (expanded in their namespace) and by the subsets they declare.</summary>
    private sealed class DestinationRules(List<DestinationRule> all)
    {
        private readonly HostPatterns<DestinationRule> _byHost =
            new(all.Where(dr => dr.Spec.Host is not null).Select(dr => (HostName.Expand(dr.Spec.Host!, dr.Metadata.Namespace), dr)));
        private readonly ILookup<string, DestinationRule> _bySubset = all
            .SelectMany(dr => dr.Spec.Subsets.Select(s => s.Name).OfType<string>().Distinct().Select(name => (name, dr))).ToLookup(x => x.name, x => x.dr);

        public List<DestinationRule> All => all;
        public int Visits => _byHost.Visits;

        /// <summary>Those whose host covers <paramref name="expanded"/>, in the order given.</summary>
        public IEnumerable<DestinationRule> For(string expanded) => _byHost.Covering(expanded).Select(i => _byHost[i].Value);

        /// <summary>Those declaring a subset of that name, in the order given.</summary>
        public IReadOnlyList<DestinationRule> Declaring(string subset) => _bySubset[subset].ToList();
    }

    private static string Named(string reference, string key) => key == reference ? $"'{reference}'" : $"'{reference}' ({key})";

    private static string Describe(string host, string expanded) => host == expanded ? $"'{host}'" : $"'{host}' ({expanded})";

    private static void LegacyGateway(string gateway, string path, Action<string, string> warn)
    {
        if (gateway == "mesh" || gateway.Contains('/') || !gateway.Contains('.')) return;
        var parts = gateway.Split('.');
        warn(path, $"legacy gateway name '{gateway}' is read as '{parts[1]}/{parts[0]}'; write '{parts[1]}/{parts[0]}'");
    }

    /// <summary>The http rules' destinations as one-line tcp rules, carrying the L4 conditions of their matches.</summary>
    private static string TcpFormOf(Seq<HttpRoute> http)
    {
        var sb = new StringBuilder("tcp: [");
        for (var r = 0; r < http.Count; r++)
        {
            if (r > 0) sb.Append(", ");
            sb.Append('{');
            var l4Matches = http[r].Match.OfType<RawMap>()
                .Select(m => m.Fields.Where(f => IsL4(f.Key)).ToList()).ToList();
            // A block left with no condition matches every connection, and so does the rule that ORs it with others.
            if (l4Matches.Count > 0 && l4Matches.All(f => f.Count > 0))
                sb.Append("match: [").Append(string.Join(", ", l4Matches.Select(fs => "{" + string.Join(", ", fs.Select(f => $"{f.Key}: {Flow(f.Value)}")) + "}"))).Append("], ");
            sb.Append("route: [");
            sb.Append(string.Join(", ", http[r].Route.Select(d =>
            {
                var dest = d.Destination;
                var parts = new List<string>();
                if (dest?.Host is { } h) parts.Add($"host: {h}");
                if (dest?.Subset is { } s) parts.Add($"subset: {s}");
                if (dest?.Port?.Number is { } p) parts.Add($"port: {{number: {p}}}");
                return "{destination: {" + string.Join(", ", parts) + "}" + (d.Weight is { } w ? $", weight: {w}" : "") + "}";
            })));
            sb.Append("]}");
        }
        return sb.Append(']').ToString();
    }

    /// <summary>The match fields of an http rule a TCP connection has an equivalent of (the rest are HTTP's: uri, headers, ...).</summary>
    private static bool IsL4(string matchField) => matchField is "port" or "sourceLabels" or "gateways" or "sourceNamespace";

    /// <summary>
    /// What <see cref="TcpFormOf"/> leaves out: HTTP conditions (uri, headers, ...), without which its rules match more
    /// connections; a rule with a block of only those (its blocks are ORed) matches every connection, and the rules after it none. Said, so the tcp form
    /// is not pasted in as the same routing.
    /// </summary>
    private static string LeftOut(Seq<HttpRoute> http)
    {
        var fields = new List<string>();
        string? everything = null;
        for (var r = 0; r < http.Count; r++)
        {
            var matches = http[r].Match.OfType<RawMap>().ToList();
            for (var m = 0; m < matches.Count; m++)
                fields.AddRange(matches[m].Fields.Where(f => !IsL4(f.Key) && f.Key is not ("name" or "statPrefix")).Select(f => $"spec.http[{r}].match[{m}].{f.Key}"));
            if (matches.Any(m => !m.Fields.Any(f => IsL4(f.Key))) && r < http.Count - 1) everything ??= $"spec.http[{r}]";
        }
        if (fields.Count == 0) return "";
        var shown = fields.Take(5).Append(fields.Count > 5 ? $"and {fields.Count - 5} more" : null).OfType<string>();
        return $". Left out of it, as a TCP connection has no such thing: {string.Join(", ", shown)}, so its rules match more connections than the http ones"
               + (everything is null ? "" : $" (the tcp form of {everything} matches every connection, and the rules after it none)");
    }

    private static string Flow(RawValue value) => value switch
    {
        RawScalar s => s.Value,
        RawList l => "[" + string.Join(", ", l.Items.Select(Flow)) + "]",
        RawMap m => "{" + string.Join(", ", m.Fields.Select(f => $"{f.Key}: {Flow(f.Value)}")) + "}",
        _ => "",
    };
}
