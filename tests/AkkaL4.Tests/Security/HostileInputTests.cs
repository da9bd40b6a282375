using AkkaL4.Actors.Config;
using AkkaL4.Actors.Routing;
using AkkaL4.Tests.Support;
using AkkaL4.Messages.Model;

namespace AkkaL4.Tests.Security;

/// <summary>
/// Input built to be cheap to send and expensive to process is refused at a bounded cost: the work is
/// measured in bytes allocated, the size of what is reported, and (only as a guard) wall-clock time.
/// </summary>
[Trait("Category", "Unit")]
public class HostileInputTests
{
    private const string Source = "hostile.yaml";

    /// <summary>A 3.9 MB string, anchored once (issue #12's bomb).</summary>
    private static readonly string Big = new('x', 3_900_000);

    /// <summary>Decodes and checks on this thread, returning what it allocated (the work it did) and took.</summary>
    private static (ConfigReport Report, long Allocated, TimeSpan Took) Check(string text)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var before = GC.GetAllocatedBytesForCurrentThread();
        var report = ConfigCheck.Check([(Source, text)]);
        return (report, GC.GetAllocatedBytesForCurrentThread() - before, started.Elapsed);
    }

    private static long ReportedChars(ConfigReport report) =>
        report.Errors.Concat(report.Warnings).Sum(d => d.ToString().Length);

    /// <summary>Bounds for one refusal: the input's text is 7.8 MB in memory, and YamlDotNet copies a scalar a few times.</summary>
    private static void AssertCheap((ConfigReport Report, long Allocated, TimeSpan Took) run)
    {
        Assert.False(run.Report.Ok);
        Assert.True(run.Allocated < 128L * 1024 * 1024, $"allocated {run.Allocated:N0} bytes");
        Assert.True(ReportedChars(run.Report) < 20_000, $"reported {ReportedChars(run.Report):N0} characters");
        // A guard against a hang, not a benchmark: the machine is shared.
        Assert.True(run.Took < TimeSpan.FromSeconds(10), $"took {run.Took}");
    }

    [Fact]
    public void A_big_anchored_string_reused_as_keys_is_refused_at_the_first_aliased_key()
    {
        var keys = string.Concat(Enumerable.Repeat("  *big : 1\n", 10_000));
        var text = $"apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  annotations: {{k: &big {Big}}}\nspec:\n{keys}";

        var run = Check(text);

        AssertCheap(run);
        var error = Assert.Single(run.Report.Errors);
        Assert.Contains("an alias cannot be a mapping key", error.Message);
        Assert.Equal($"{Source}:7:3", error.Location);
    }

    [Fact]
    public void A_big_anchored_string_reused_as_values_hits_the_character_budget()
    {
        var values = string.Concat(Enumerable.Repeat("    - *big\n", 10_000));
        var text = $"apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  annotations: {{k: &big {Big}}}\nspec:\n  ports:\n{values}";

        var run = Check(text);

        AssertCheap(run);
        var error = Assert.Single(run.Report.Errors);
        Assert.Contains($"aliases expand to more than {DecodeLimits.Default.MaxAliasExpansionChars} characters", error.Message);
    }

    [Fact]
    public void Aliases_within_both_budgets_still_expand()
    {
        var text = "apiVersion: v1\nkind: Service\nmetadata: {name: a, labels: &l {app: web}}\nspec: {selector: *l}\n";

        var within = ManifestDecoder.Decode(text, Source, new DecodeLimits { MaxAliasExpansionChars = 6 });
        var over = ManifestDecoder.Decode(text, Source, new DecodeLimits { MaxAliasExpansionChars = 5 });

        Assert.Empty(within.Errors);
        Assert.Contains("aliases expand to more than 5 characters", Assert.Single(over.Errors).Message);
    }

    [Fact]
    public void A_huge_unknown_key_is_quoted_short_and_gets_no_suggestion()
    {
        // An explicit key (? ...): YAML's implicit keys stop at 1024 characters.
        var text = $"apiVersion: v1\nkind: Service\nmetadata: {{name: a}}\nspec:\n  ? {Big}\n  : 1\n";

        var run = Check(text);

        AssertCheap(run);
        var error = Assert.Single(run.Report.Errors);
        Assert.StartsWith($"unknown field '{new string('x', Diagnostic.MaxQuoted)}… ({Big.Length} characters)'", error.Message);
        Assert.DoesNotContain("did you mean", error.Message);
        Assert.True(error.Field.Length < 400, error.Field);
    }

    [Fact]
    public void A_short_misspelt_key_still_gets_a_suggestion()
    {
        var error = Assert.Single(ManifestDecoder.Decode("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {selectr: {}}\n", Source).Errors);

        Assert.Contains("did you mean 'selector'?", error.Message);
    }

    /// <summary>A Service whose spec has <paramref name="n"/> unknown keys, and what decoding it looked at.</summary>
    private static string UnknownKeys(int n) =>
        $"apiVersion: v1\nkind: Service\nmetadata: {{name: a}}\nspec:\n{string.Concat(Enumerable.Range(0, n).Select(i => $"  k{i}: 1\n"))}";

    private static (DecodeResult Result, WorkCounts Work) Decode(string text)
    {
        var work = new WorkCounts();
        return (ManifestDecoder.Decode(text, Source, null, null, work), work);
    }

    [Fact]
    public void Errors_past_the_limit_are_counted_in_one_closing_error()
    {
        var (result, work) = Decode(UnknownKeys(50_000));

        Assert.Equal(DecodeLimits.Default.MaxErrors + 1, result.Errors.Count);
        var last = result.Errors[^1];
        Assert.Equal($"and {50_000 - DecodeLimits.Default.MaxErrors} more error(s) not shown (at most {DecodeLimits.Default.MaxErrors} per input)", last.Message);
        Assert.Equal($"{Source}:{5 + DecodeLimits.Default.MaxErrors}:3", last.Location);
        // Each key bound once and looked at once more for a key with no value it may belong under. Before (sec19), every
        // unknown key looked through every key of its mapping: 1.25 billion looks here, 852 s of CPU in CI.
        Assert.True(work.MapEntries <= 2 * 50_000 + 10, $"{work.MapEntries:N0} mapping entries looked at for 50,000 keys");
    }

    [Fact]
    public void Unknown_keys_cost_the_decoder_work_linear_in_their_number()
    {
        WorkCount.Linear(UnknownKeys, 2_000, text => Decode(text).Work, w => w.MapEntries, perUnit: 3, "unknown keys");
    }

    [Fact]
    public void Broken_documents_are_named_at_the_cost_of_one_read_of_the_text()
    {
        // Each an unclosed [. Before (sec19), each syntax error split the whole text into lines to find its resource and field:
        // 2,000 such documents (145 KB) allocated 1.2 GB, 4,000 allocated 4.7 GB (16 s of CPU).
        var text = string.Join("---\n", Enumerable.Range(0, 2_000).Select(i => $"apiVersion: v1\nkind: Service\nmetadata: {{name: s{i}}}\nspec: {{ports: [\n"));
        var before = GC.GetAllocatedBytesForCurrentThread();

        var errors = ManifestDecoder.Decode(text, Source).Errors;

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 2_000 * 40_000, $"allocated {allocated:N0} bytes for 2,000 broken documents");
        Assert.Equal(DecodeLimits.Default.MaxErrors + 1, errors.Count);
        Assert.Equal(("Service/default/s0", "Service/default/s99"), (errors[0].Resource, errors[99].Resource));
    }

    [Fact]
    public void The_indentation_hint_still_finds_an_empty_parent_among_many_keys()
    {
        var keys = string.Concat(Enumerable.Range(0, 50).Select(i => $"      k{i}: 1\n"));
        var text = $"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: a}}\nspec:\n  hosts: [a]\n  tcp:\n  - route:\n"
                   + $"    - destination:\n{keys}      host: a\n";

        var errors = ManifestDecoder.Decode(text, Source).Errors;

        Assert.Contains(errors, e => e.Field == "spec.tcp[0].route[0].host"
                                      && e.Message.EndsWith("'destination' has no value here and takes a field of this name; indent it under destination"));
    }

    [Fact]
    public void Validation_errors_past_the_limit_are_counted_too()
    {
        // Services without ports are valid; ports out of range are not, one error each.
        var text = string.Join("---\n", Enumerable.Range(0, 300).Select(i =>
            $"apiVersion: v1\nkind: Service\nmetadata: {{name: s{i}}}\nspec: {{ports: [{{port: 70000}}]}}\n"));

        var report = ConfigCheck.Check([(Source, text)]);

        Assert.Equal(DecodeLimits.Default.MaxErrors + 1, report.Errors.Count);
        Assert.StartsWith("and 200 more validation error(s) not shown", report.Errors[^1].Message);
    }

    [Fact]
    public void Every_part_of_a_diagnostic_is_capped()
    {
        var d = Diagnostic.Error(Big, Big, Big, Big) with { Message = Big };

        Assert.True(d.Resource.Length < 400 && d.Field.Length < 400 && d.Location!.Length < 400 && d.Message.Length < 1100, d.ToString()[..500]);
        Assert.EndsWith($"… ({Big.Length} characters)", d.Message);
    }
}
