using System.Diagnostics;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Compose;

/// <summary>
/// deploy/compose-env.sh run by bash on temporary env files: the password line is never glued onto a last line
/// without its newline, and a password already there (also as <c>export ...</c> or indented) is kept, never joined
/// by a second one.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class ComposeEnvTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("akkal4-compose-env-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static async Task RunAsync(string file)
    {
        using var process = Process.Start(new ProcessStartInfo("bash", [Repo.Path("deploy", "compose-env.sh"), file])
        {
            RedirectStandardError = true, RedirectStandardOutput = true,
        })!;
        var error = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(process.ExitCode == 0, $"compose-env.sh exited {process.ExitCode}: {await error}");
    }

    private string Write(string name, string text)
    {
        var file = Path.Combine(_directory, name);
        File.WriteAllText(file, text);
        return file;
    }

    [Fact]
    public async Task A_last_line_without_a_newline_keeps_its_value_and_a_second_run_adds_no_password()
    {
        var file = Write("no-newline.env", "AKKAL4_HOST=127.0.0.2");
        await RunAsync(file);
        await RunAsync(file);
        var lines = File.ReadAllLines(file);
        Assert.Equal(2, lines.Length);
        Assert.Equal("AKKAL4_HOST=127.0.0.2", lines[0]);
        Assert.Matches("^AKKAL4_POSTGRES_PASSWORD=[0-9a-f]{48}$", lines[1]);
    }

    [Theory]
    [InlineData("export AKKAL4_POSTGRES_PASSWORD=hand-written\n")]
    [InlineData("  AKKAL4_POSTGRES_PASSWORD=hand-written\n")]
    [InlineData("AKKAL4_HOST=127.0.0.2\n\texport  AKKAL4_POSTGRES_PASSWORD=hand-written")]
    public async Task A_password_already_set_by_hand_is_kept(string text)
    {
        var file = Write("by-hand.env", text);
        await RunAsync(file);
        Assert.Equal(text, File.ReadAllText(file));
    }
}
