using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using AkkaL4.Actors.Config;
using AkkaL4.Actors.Routing;
using AkkaL4.Messages.Model;
using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.Support;
using Xunit.Abstractions;

namespace AkkaL4.Tests.Fuzz;

/// <summary>
/// 100,000 generated and mutated manifests (from examples/ and the seed corpus in Fuzz/corpus/) through
/// the decoder, validator, analyser, route compiler and explain: no exception escapes, every input is
/// done within a time bound and the heap stays bounded. A crash is written out with its seed so it can
/// be added to Fuzz/corpus/ (every file there is also replayed on its own as a regression case).
/// AKKAL4_FUZZ_SEED and AKKAL4_FUZZ_INPUTS change the run (for longer runs by hand).
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", "Fuzz")]
public sealed partial class ManifestFuzzTests(ITestOutputHelper output)
{
    private const string Source = "fuzz.yaml";
    private static readonly TimeSpan PerInputBound = TimeSpan.FromSeconds(5);
    private const long HeapBound = 1L << 30;

    private static readonly string CorpusDirectory = Repo.Path("tests/AkkaL4.Tests/Fuzz/corpus");

    private static IEnumerable<string> ManifestFiles(string directory) => Directory
        .EnumerateFiles(directory, "*", SearchOption.AllDirectories)
        .Where(f => Path.GetExtension(f) is ".yaml" or ".yml" or ".json")
        .Order(StringComparer.Ordinal);

    private static readonly string[] Seeds = ManifestFiles(Repo.Path("examples")).Concat(ManifestFiles(CorpusDirectory)).Select(File.ReadAllText).ToArray();

    public static TheoryData<string> CorpusFiles()
    {
        var data = new TheoryData<string>();
        foreach (var file in ManifestFiles(CorpusDirectory)) data.Add(Path.GetFileName(file));
        return data;
    }

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void A_corpus_file_goes_through_the_pipeline(string file)
    {
        var outcome = Pipeline.Run(File.ReadAllText(Path.Combine(CorpusDirectory, file)));
        Assert.True(outcome.Diagnostics > 0 || outcome.Resources > 0, "nothing decoded and nothing reported");
    }

    [Fact]
    public void Generated_and_mutated_manifests_never_escape_the_pipeline()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("AKKAL4_FUZZ_SEED"), out var s) ? s : 20261130;
        var count = int.TryParse(Environment.GetEnvironmentVariable("AKKAL4_FUZZ_INPUTS"), out var n) ? n : 100_000;
        var crashes = new ConcurrentQueue<(int Index, string Input, Exception Error)>();
        var slowest = (Ticks: 0L, Index: -1);
        long peakHeap = 0, accepted = 0, bytes = 0, makingTicks = 0;
        var gate = new object();
        var started = Stopwatch.StartNew();

        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            var making = Stopwatch.GetTimestamp();
            var input = Mutator.Make(new Random(InputSeed(seed, i)), Seeds);
            Interlocked.Add(ref makingTicks, Stopwatch.GetTimestamp() - making);
            Interlocked.Add(ref bytes, input.Length);
            var timer = Stopwatch.StartNew();
            try
            {
                if (Pipeline.Run(input).Ok) Interlocked.Increment(ref accepted);
            }
            catch (Exception e)
            {
                crashes.Enqueue((i, input, e));
            }
            var ticks = timer.ElapsedTicks;
            if (ticks > Volatile.Read(ref slowest.Ticks))
                lock (gate) if (ticks > slowest.Ticks) slowest = (ticks, i);
            if (i % 2000 == 0)
            {
                var heap = GC.GetTotalMemory(forceFullCollection: false);
                lock (gate) peakHeap = Math.Max(peakHeap, heap);
            }
        });

        var slowestTime = TimeSpan.FromSeconds((double)slowest.Ticks / Stopwatch.Frequency);
        if (slowest.Index >= 0)
        {
            var input = Mutator.Make(new Random(InputSeed(seed, slowest.Index)), Seeds);
            output.WriteLine($"slowest input: {input.Length:N0} characters: {System.Text.Json.JsonSerializer.Serialize(input[..Math.Min(300, input.Length)])}");
        }
        output.WriteLine($"fuzz: {count:N0} inputs ({bytes / count:N0} characters on average, {accepted:N0} accepted) in {started.Elapsed.TotalSeconds:0.0}s ({makingTicks * 1.0 / Stopwatch.Frequency:0.0}s of it making inputs); "
                         + $"slowest input #{slowest.Index} {slowestTime.TotalMilliseconds:0} ms; peak heap {peakHeap / (1024 * 1024):N0} MiB; seed {seed}; {crashes.Count} crash(es)");
        foreach (var (index, input, error) in crashes.Take(5))
        {
            var path = Path.Combine(Path.GetTempPath(), $"akkal4-fuzz-crash-{seed}-{index}.yaml");
            File.WriteAllText(path, input);
            output.WriteLine($"crash #{index} written to {path} (add it to Fuzz/corpus/): {error}");
        }
        Assert.True(crashes.IsEmpty, crashes.IsEmpty ? "" : $"{crashes.Count} input(s) threw; first: #{crashes.First().Index} {crashes.First().Error}");
        Assert.True(slowestTime < PerInputBound, $"input #{slowest.Index} took {slowestTime}");
        Assert.True(peakHeap < HeapBound, $"heap reached {peakHeap:N0} bytes");
        Assert.True(accepted > count / 50, $"only {accepted} of {count} inputs were valid: the mutations are too destructive to reach the compiler");
    }

    /// <summary>Input <paramref name="index"/>'s own seed: the same every run (HashCode is randomised per process).</summary>
    private static int InputSeed(int seed, int index) => unchecked(seed * 1_000_003 + index);

    /// <summary>What explain does with manifests: decode, validate, analyse, compile for a node serving every Gateway, and explain connections to each listener.</summary>
    internal static class Pipeline
    {
        public sealed record Outcome(bool Ok, int Resources, int Diagnostics);

        public static Outcome Run(string text)
        {
            var report = ConfigCheck.Check([(Source, text)]);
            var diagnostics = report.Errors.Concat(report.Warnings).ToList();
            foreach (var d in diagnostics)
            {
                // Rendering is part of the pipeline; a report bigger than its caps is a finding.
                if (d.ToString().Length > 3000) throw new InvalidOperationException($"a {d.ToString().Length}-character diagnostic");
            }
            if (diagnostics.Count > 2 * DecodeLimits.Default.MaxErrors + 2 && !report.Ok)
                throw new InvalidOperationException($"{report.Errors.Count} errors reported for one input");
            if (!report.Ok) return new Outcome(false, report.Resources.Count, diagnostics.Count);

            var resources = report.Resources;
            var labels = new Labels(resources.OfType<Gateway>().SelectMany(g => g.Spec.Selector).DistinctBy(p => p.Key));
            var served = resources.Select(r => r is Gateway g ? g with { Spec = g.Spec with { Selector = Labels.Empty } } : r).ToList();
            var snapshot = RouteCompiler.Compile(served, labels, revision: 1);
            foreach (var listener in snapshot.Listeners.Take(8))
            {
                foreach (var (source, sni) in Connections)
                    _ = Explanation.Of(snapshot.Decide(listener.Address, source, listener.Address.Address, sni)).ToText();
            }
            // A destination nothing listens on is explained too.
            _ = Explanation.Of(snapshot.Decide(new IpPort(IpKey.Parse("203.0.113.1"), 1), IpKey.Parse("10.0.0.1"), IpKey.Parse("203.0.113.1"))).ToText();
            return new Outcome(true, resources.Count, diagnostics.Count);
        }

        private static readonly (IpKey Source, string? Sni)[] Connections =
            [(IpKey.Parse("127.0.30.1"), null), (IpKey.Parse("10.1.0.1"), "a.example.com"), (IpKey.Parse("::1"), "")];
    }

    /// <summary>Makes one input: a seed (or a generated manifest) with one to four mutations.</summary>
    internal static partial class Mutator
    {
        private static readonly string[] HugeNumbers =
            ["99999999999999999999999", "-1", "0", "-0", "2147483647", "2147483648", "-2147483649", "9223372036854775807", "9223372036854775808",
             "18446744073709551616", "1e309", "0x7fffffff", "0o777", "1_000", ".inf", "-.inf", ".nan", "65535", "65536", "4294967296", "1.5",
             "99999999999999999999h", "9223372036854775807ns", "106751991167d", "0.0000000001s", "-5s", "1e3s"];

        private static readonly string[] OddUnicode =
            ["\u202E", "\u200B", "\uFEFF", "\0", "\uD800", "\uDC00", "😀", "e\u0301", "\u0130", "ǅ", "\u2028", "\u00A0", "\t", "\r", "\u0085", "ﬀ", "Ⅻ", "\uFFFF", "\u001B[31m", "١٢٣"];

        private static readonly string[] WrongValues =
            ["[1, 2]", "{a: b}", "true", "null", "''", "80", "~", "[]", "{}", "\"\"", "!!binary aGVsbG8=", "!custom x", "|\n  text", "- a\n- b", "*undefined", "&a", "? complex", "'unterminated", "[unclosed", "{unclosed"];

        private static readonly string[] Kinds = ["Service", "VirtualService", "DestinationRule", "Gateway", "ServiceEntry", "WorkloadEntry", "List", "Pod", ""];

        [GeneratedRegex(@"-?\d+(\.\d+)?[a-z]*")]
        private static partial Regex Number();

        [GeneratedRegex(@"^(\s*-?\s*)([A-Za-z0-9_.\-]+):(.*)$", RegexOptions.Multiline)]
        private static partial Regex KeyValue();

        public static string Make(Random random, string[] seeds)
        {
            var text = random.Next(5) == 0 ? Generate(random) : seeds[random.Next(seeds.Length)];
            for (var m = random.Next(1, 5); m > 0; m--) text = Mutate(random, text, seeds);
            return text;
        }

        private static string Mutate(Random random, string text, string[] seeds)
        {
            if (text.Length == 0) return Generate(random);
            var at = random.Next(text.Length + 1);
            switch (random.Next(14))
            {
                case 0: // truncation
                    return text[..at];
                case 1: // byte flips, through UTF-8 (invalid sequences come back as U+FFFD)
                {
                    var bytes = Encoding.UTF8.GetBytes(text);
                    for (var k = random.Next(1, 9); k > 0 && bytes.Length > 0; k--) bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                    return Encoding.UTF8.GetString(bytes);
                }
                case 2: // huge or odd numbers
                {
                    var numbers = Number().Matches(text);
                    if (numbers.Count == 0) return text + HugeNumbers[random.Next(HugeNumbers.Length)];
                    var n = numbers[random.Next(numbers.Count)];
                    return text[..n.Index] + HugeNumbers[random.Next(HugeNumbers.Length)] + text[(n.Index + n.Length)..];
                }
                case 3: // deep nesting, flow or block
                {
                    var depth = random.Next(10, 150);
                    var nest = random.Next(2) == 0
                        ? new string('[', depth) + new string(']', depth)
                        : string.Concat(Enumerable.Range(0, depth).Select(d => "\n" + new string(' ', 2 * d + 2) + "k:"));
                    return InsertLine(random, text, "  deep: " + nest);
                }
                case 4: // alias bombs and aliases in odd places
                    return random.Next(4) switch
                    {
                        0 => text + "\n---\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
                        1 => InsertLine(random, text, "  big: &big " + new string('x', random.Next(1, 5_000)) + "\n" + string.Concat(Enumerable.Repeat("  more: *big\n", random.Next(1, 50)))),
                        2 => InsertLine(random, text, "  ? &k key\n  : 1\n  *k : 2"),
                        _ => KeyValue().Replace(text, m => random.Next(6) == 0 ? $"{m.Groups[1].Value}{m.Groups[2].Value}: &x{random.Next(3)}{m.Groups[3].Value}" : random.Next(6) == 0 ? $"{m.Groups[1].Value}{m.Groups[2].Value}: *x{random.Next(3)}" : m.Value),
                    };
                case 5: // odd Unicode
                    return text[..at] + OddUnicode[random.Next(OddUnicode.Length)] + text[at..];
                case 6: // wrong types
                {
                    var lines = KeyValue().Matches(text);
                    if (lines.Count == 0) return text;
                    var line = lines[random.Next(lines.Count)];
                    var value = WrongValues[random.Next(WrongValues.Length)];
                    return text[..line.Index] + $"{line.Groups[1].Value}{line.Groups[2].Value}: {value}" + text[(line.Index + line.Length)..];
                }
                case 7: // line surgery: duplicate, delete, swap, re-indent
                {
                    var lines = text.Split('\n').ToList();
                    var i = random.Next(lines.Count);
                    var j = random.Next(lines.Count);
                    switch (random.Next(4))
                    {
                        case 0: lines.Insert(j, lines[i]); break;
                        case 1: lines.RemoveAt(i); break;
                        case 2: (lines[i], lines[j]) = (lines[j], lines[i]); break;
                        default: lines[i] = random.Next(2) == 0 ? "  " + lines[i] : lines[i].TrimStart(); break;
                    }
                    return string.Join('\n', lines);
                }
                case 8: // splice two inputs
                {
                    var other = seeds[random.Next(seeds.Length)];
                    return text[..at] + other[random.Next(other.Length + 1)..];
                }
                case 9: // keys: misspelt, huge, empty, quoted
                    return KeyValue().Replace(text, m => random.Next(8) != 0 ? m.Value : random.Next(4) switch
                    {
                        0 when m.Groups[2].Value.Length > 1 => $"{m.Groups[1].Value}{m.Groups[2].Value.Remove(random.Next(m.Groups[2].Value.Length), 1)}:{m.Groups[3].Value}",
                        1 => $"{m.Groups[1].Value}\"{new string('k', random.Next(1, 900))}\":{m.Groups[3].Value}",
                        2 => $"{m.Groups[1].Value}\"\":{m.Groups[3].Value}",
                        _ => $"{m.Groups[1].Value}{m.Groups[2].Value.ToUpperInvariant()}:{m.Groups[3].Value}",
                    }, 50);
                case 10: // document markers and directives in odd places
                    return text[..at] + (random.Next(3) switch { 0 => "\n---\n", 1 => "\n...\n", _ => "\n%YAML 1.1\n" }) + text[at..];
                case 11: // many documents or resources
                    return string.Join("\n---\n", Enumerable.Repeat(text, random.Next(2, 5)));
                case 12: // a value repeated as a long list
                    return InsertLine(random, text, "  list: [" + string.Join(", ", Enumerable.Repeat(HugeNumbers[random.Next(HugeNumbers.Length)], random.Next(1, 200))) + "]");
                default: // JSON-ish damage: tabs, braces
                    return text[..at] + (random.Next(3) switch { 0 => "\t", 1 => "{", _ => "}" }) + text[at..];
            }
        }

        private static string InsertLine(Random random, string text, string line)
        {
            var lines = text.Split('\n').ToList();
            lines.Insert(random.Next(lines.Count + 1), line);
            return string.Join('\n', lines);
        }

        /// <summary>A manifest made up from pieces, valid more often than not.</summary>
        private static string Generate(Random random)
        {
            string Pick(params string[] options) => options[random.Next(options.Length)];
            string Ip() => random.Next(8) == 0 ? Pick("::1", "fe80::1", "256.1.1.1", "10.0.0.0/8", "", "0.0.0.0") : $"10.{random.Next(256)}.{random.Next(256)}.{random.Next(1, 255)}";
            string Port() => random.Next(6) == 0 ? HugeNumbers[random.Next(HugeNumbers.Length)] : random.Next(1, 65536).ToString();
            var name = Pick("a", "b", "svc", "x-1", "Bad_Name", new string('n', random.Next(1, 300)));
            var ns = Pick("default", "prod", "istio-system", "");
            return Pick(Kinds) switch
            {
                "Service" => $"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  clusterIP: {Ip()}\n  selector: {{app: {name}}}\n  ports:\n  - {{name: tcp, port: {Port()}, targetPort: {Port()}}}\n",
                "WorkloadEntry" => $"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {{name: {name}, namespace: {ns}}}\nspec: {{address: {Ip()}, labels: {{app: {name}}}, weight: {Port()}}}\n",
                "VirtualService" => $"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  hosts: [{name}]\n  tcp:\n  - match: [{{port: {Port()}, destinationSubnets: [{Ip()}]}}]\n    route:\n    - destination: {{host: {name}, port: {{number: {Port()}}}}}\n      weight: {random.Next(-5, 120)}\n",
                "DestinationRule" => $"apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  host: {name}\n  trafficPolicy:\n    connectionPool: {{tcp: {{maxConnections: {Port()}, connectTimeout: {Pick("1s", "0s", "-1s", "49d", "100000000h", "1.5ms", "x")}, tcpKeepalive: {{probes: {Port()}, time: {Pick("1s", "9999999s", "0s")}}}}}}}\n    loadBalancer: {{simple: {Pick("ROUND_ROBIN", "RANDOM", "LEAST_REQUEST", "PASSTHROUGH", "NOPE")}}}\n",
                "Gateway" => $"apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  selector: {{istio: {name}}}\n  servers:\n  - port: {{number: {Port()}, name: tcp, protocol: {Pick("TCP", "TLS", "HTTP", "MONGO")}}}\n    hosts: [\"*\"]\n    bind: {Pick(Ip(), "unix:///tmp/sock", "")}\n",
                "ServiceEntry" => $"apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  hosts: [{name}.example.com]\n  addresses: [{Ip()}]\n  ports: [{{number: {Port()}, name: tcp, protocol: TCP}}]\n  resolution: {Pick("STATIC", "DNS", "NONE", "DNS_ROUND_ROBIN")}\n  endpoints: [{{address: {Ip()}}}]\n",
                var kind => $"apiVersion: v1\nkind: {kind}\nmetadata: {{name: {name}}}\nitems: [{{kind: Service}}]\n",
            };
        }
    }
}
