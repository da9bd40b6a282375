using System.CommandLine;
using System.Text.Json;
using AkkaL4.Actors.Config;
using AkkaL4.Messages.Model;

namespace AkkaL4.Node.Cli;

/// <summary><c>akkal4 validate -f PATH...</c>: decode, validate and analyse manifests offline.</summary>
internal static class ValidateCommand
{
    public static Command Create()
    {
        var files = CommonOptions.Files();
        var output = CommonOptions.Output();
        var command = new Command("validate",
            "Check Istio manifests offline: decoding, Istio's validation rules and AkkaL4's analysis. " +
            "Prints one finding per line (error|warning|note  Kind/namespace/name  field.path  message; a note is no mistake). " +
            "Exit code 0 when valid (warnings allowed), 1 when any error, 2 for usage errors.")
        {
            files, output,
        };
        command.SetAction(parse =>
        {
            if (!CommonOptions.TryReadManifests(parse.GetValue(files)!, out var inputs)) return ExitCodes.Usage;
            var report = ConfigCheck.Check(inputs);
            Print(report, parse.GetValue(output) == "json", Console.Out);
            return report.Ok ? ExitCodes.Ok : ExitCodes.Rejected;
        });
        return command;
    }

    internal static void Print(ConfigReport report, bool json, TextWriter writer)
    {
        if (json)
        {
            writer.WriteLine(JsonSerializer.Serialize(new
            {
                errors = report.Errors.Select(ToJson),
                warnings = report.Warnings.Select(ToJson),
                notes = report.Notes.Select(ToJson),
            }, Json));
            return;
        }
        foreach (var d in report.Errors.Concat(report.Warnings)) writer.WriteLine(d);
        foreach (var d in report.Notes) writer.WriteLine($"note  {d.Resource}  {d.Field}  {d.Message}" + (d.Location is null ? "" : $" (at {d.Location})"));
        var kinds = report.Resources.GroupBy(r => r.Kind).Select(g => $"{g.Count()} {g.Key}").ToList();
        writer.WriteLine(report.Ok
            ? $"valid: {Count(report.Resources.Count, "resource")} ({string.Join(", ", kinds)}), {Count(report.Warnings.Count, "warning")}"
            : $"invalid: {Count(report.Errors.Count, "error")}, {Count(report.Warnings.Count, "warning")}");
    }

    /// <summary>Indented, and quotes in messages left as they are ('x', not \u0027x\u0027): read by people and jq, never put in HTML.</summary>
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string Count(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}s";

    private static object ToJson(Diagnostic d) => new { resource = d.Resource, field = d.Field, message = d.Message, location = d.Location };
}
