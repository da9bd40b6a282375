using System.Diagnostics;

namespace AkkaL4.Tests.Support;

/// <summary>What a run of the real <c>akkal4</c> executable printed and returned.</summary>
public sealed record CliRun(int ExitCode, string Stdout, string Stderr)
{
    public string[] Lines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>Runs the built <c>akkal4.dll</c> (next to the tests: the test project references src/Node) as a user would.</summary>
public static class Akkal4Process
{
    public static async Task<CliRun> RunAsync(string[] args, string? stdin = null, IReadOnlyDictionary<string, string>? environment = null,
        TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        var dll = Path.Combine(AppContext.BaseDirectory, "akkal4.dll");
        Assert.True(File.Exists(dll), $"{dll} not found: the test project must reference src/Node");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            WorkingDirectory = Repo.Root,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        // The runner's own settings must not leak into what a test checks.
        start.Environment.Remove("AKKAL4_SERVER");
        start.Environment.Remove("AKKAL4_ADMIN_TOKEN");
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;

        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + start.FileName);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null) await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        using var cts = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"akkal4 {string.Join(' ', args)} did not exit within {limit}");
        }
        return new CliRun(process.ExitCode, await stdout, await stderr);
    }
}
