using System.Diagnostics;
using AkkaL4.Actors;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Compose;

/// <summary>
/// deploy/compose-env.sh run by bash on temporary env files: it writes every secret the compose file asks for (the
/// journal's password, the admin token, the remoting certificate a node loads, with its password), owner-only; a line
/// is never glued onto a last line without its newline, and a value already there (also as <c>export ...</c> or
/// indented) is kept, never joined by a second one.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class ComposeEnvTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("akkal4-compose-env-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static async Task RunAsync(string file)
    {
        var (exit, error) = await ExitAsync(file);
        Assert.True(exit == 0, $"compose-env.sh exited {exit}: {error}");
    }

    private static async Task<(int Exit, string Error)> ExitAsync(string file)
    {
        using var process = Process.Start(new ProcessStartInfo("bash", [Repo.Path("deploy", "compose-env.sh"), file])
        {
            RedirectStandardError = true, RedirectStandardOutput = true,
        })!;
        var error = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await error);
    }

    private string Write(string name, string text)
    {
        var file = Path.Combine(_directory, name);
        File.WriteAllText(file, text);
        return file;
    }

    private static string[] Named(string[] lines, string name) => lines.Where(l => l.StartsWith(name + "=", StringComparison.Ordinal)).ToArray();

    [Fact]
    public async Task A_last_line_without_a_newline_keeps_its_value_and_a_second_run_changes_nothing()
    {
        var file = Write("no-newline.env", "AKKAL4_HOST=127.0.0.2");
        await RunAsync(file);
        var first = File.ReadAllText(file);
        await RunAsync(file);
        Assert.Equal(first, File.ReadAllText(file));
        var lines = File.ReadAllLines(file);
        Assert.Equal("AKKAL4_HOST=127.0.0.2", lines[0]);
        Assert.Matches("^AKKAL4_POSTGRES_PASSWORD=[0-9a-f]{48}$", Assert.Single(Named(lines, "AKKAL4_POSTGRES_PASSWORD")));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Every_secret_is_written_owner_only_and_the_certificate_is_one_a_node_loads_as_a_cluster_member()
    {
        var file = Write("fresh.env", "");
        await RunAsync(file);
        var lines = File.ReadAllLines(file);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.Matches("^AKKAL4_ADMIN_TOKEN=[0-9a-f]{64}$", Assert.Single(Named(lines, "AKKAL4_ADMIN_TOKEN")));
        var password = Assert.Single(Named(lines, "AKKAL4_TLS_CERT_PASSWORD"))["AKKAL4_TLS_CERT_PASSWORD=".Length..];
        Assert.Matches("^[0-9a-f]{48}$", password);
        var certificate = Assert.Single(Named(lines, "AKKAL4_TLS_CERT_FILE"))["AKKAL4_TLS_CERT_FILE=".Length..];
        Assert.Equal(file + ".secrets/cluster.p12", certificate);
        // Only its owner enters the directory; the file itself is readable for the containers' user through its mount.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(file + ".secrets"));
        // What `run --tls-cert` does with it: it opens with the password, and a node holding it admits a peer with it.
        var tls = RemotingTls.Load(certificate, password);
        Assert.True(tls.Certificate.HasPrivateKey);
        Assert.True(tls.Trusts(tls.Certificate, presented: null), "a node refuses a peer with the compose certificate");
        Assert.True(RemotingTls.IsNodeCertificate(tls.Certificate), "no cluster-member usage");
        Assert.Throws<InvalidDataException>(() => RemotingTls.Load(certificate, "wrong"));
        // No key left behind unprotected.
        Assert.Equal(["cluster.p12"], Directory.GetFiles(file + ".secrets").Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("export AKKAL4_POSTGRES_PASSWORD=hand-written\n")]
    [InlineData("  AKKAL4_POSTGRES_PASSWORD=hand-written\n")]
    [InlineData("AKKAL4_HOST=127.0.0.2\n\texport  AKKAL4_POSTGRES_PASSWORD=hand-written")]
    public async Task A_password_already_set_by_hand_is_kept(string text)
    {
        var file = Write("by-hand.env", text);
        await RunAsync(file);
        var written = File.ReadAllText(file);
        Assert.StartsWith(text, written);
        Assert.DoesNotContain("AKKAL4_POSTGRES_PASSWORD", written[text.Length..]);
    }

    /// <summary>An env file the script wrote, and the value of each of its lines.</summary>
    private async Task<Dictionary<string, string>> FreshAsync(string name)
    {
        var file = Write(name, "");
        await RunAsync(file);
        return File.ReadAllLines(file).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
    }

    [Fact]
    public async Task Secrets_copied_from_another_host_are_kept_and_make_no_second_certificate()
    {
        var first = await FreshAsync("first.env");
        var text = $"AKKAL4_ADMIN_TOKEN=my-token\nAKKAL4_TLS_CERT_FILE=\"{first["AKKAL4_TLS_CERT_FILE"]}\"  # copied\n"
                   + $"export AKKAL4_TLS_CERT_PASSWORD='{first["AKKAL4_TLS_CERT_PASSWORD"]}'\n";
        var file = Write("copied.env", text);
        await RunAsync(file);
        var written = File.ReadAllText(file);
        Assert.StartsWith(text, written);
        Assert.Matches("^AKKAL4_POSTGRES_PASSWORD=[0-9a-f]{48}\n$", written[text.Length..]);
        Assert.False(Directory.Exists(file + ".secrets"), "a certificate was made beside the one named");
    }

    [Fact]
    public async Task Nothing_is_written_when_a_certificate_cannot_be_opened_or_is_left_behind()
    {
        var first = await FreshAsync("first.env");
        var cert = first["AKKAL4_TLS_CERT_FILE"];
        // Named without its password (one line missed when copying), with a wrong one, missing, or left behind unnamed.
        (string Text, string Says)[] cases =
        [
            ($"AKKAL4_TLS_CERT_FILE={cert}\n", "names AKKAL4_TLS_CERT_FILE but not AKKAL4_TLS_CERT_PASSWORD"),
            ($"AKKAL4_TLS_CERT_FILE={cert}\nAKKAL4_TLS_CERT_PASSWORD=wrong\n", $"AKKAL4_TLS_CERT_PASSWORD in {_directory}/bad.env does not open {cert}"),
            ($"AKKAL4_TLS_CERT_FILE={_directory}/gone.p12\nAKKAL4_TLS_CERT_PASSWORD=x\n", $"AKKAL4_TLS_CERT_FILE={_directory}/gone.p12, which does not exist"),
            ($"AKKAL4_TLS_CERT_PASSWORD={first["AKKAL4_TLS_CERT_PASSWORD"]}\n", "names no AKKAL4_TLS_CERT_FILE"),
        ];
        foreach (var (text, says) in cases)
        {
            var file = Write("bad.env", text);
            var (exit, error) = await ExitAsync(file);
            Assert.True(exit == 1, $"{text}: exit {exit}");
            Assert.Contains(says, error);
            Assert.Equal(text, File.ReadAllText(file));
        }
        // first.env lost, its certificate still there: the script must not make a password that cannot open it.
        File.Delete(Path.Combine(_directory, "first.env"));
        var (leftExit, leftError) = await ExitAsync(Path.Combine(_directory, "first.env"));
        Assert.Equal(1, leftExit);
        Assert.Contains("cluster.p12 exists but", leftError);
        Assert.False(File.Exists(Path.Combine(_directory, "first.env")), "secrets written beside a certificate they cannot open");
    }

    [Fact]
    public async Task No_secret_is_printed()
    {
        var file = Write("quiet.env", "");
        var (exit, error) = await ExitAsync(file);
        Assert.Equal(0, exit);
        foreach (var line in File.ReadAllLines(file).Where(l => !l.StartsWith("AKKAL4_TLS_CERT_FILE=", StringComparison.Ordinal)))
            Assert.DoesNotContain(line.Split('=', 2)[1], error);
    }
}
