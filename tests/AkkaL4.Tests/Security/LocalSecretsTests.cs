using AkkaL4.Actors;
using AkkaL4.Messages.Model;
using AkkaL4.Actors.ControlPlane;
using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Security;

/// <summary>
/// What other users of the node's host can read: the data directory and last-known-good file are the owner's only,
/// and secrets given as options (visible in ps) are warned about, never echoed.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", "EndToEnd")]
public sealed class LocalSecretsTests : IDisposable
{
    private readonly string _directory = ControlPlaneKit.TempDirectory();

    public void Dispose() => ControlPlaneKit.DeleteDirectory(_directory);

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void The_data_directory_and_last_known_good_are_the_owners_only()
    {
        var data = Path.Combine(_directory, "data", "node");
        var lkg = new LastKnownGood(data);
        lkg.Save(new ConfigContent(1, []));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(data));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(lkg.Path));
        Assert.Equal(LastKnownGood.Format(new ConfigContent(1, [])), File.ReadAllText(lkg.Path));

        // A temporary file left world-readable (by an older version) is replaced, not reused with its mode.
        File.WriteAllText(lkg.Path + ".tmp", "old");
        File.SetUnixFileMode(lkg.Path + ".tmp", (UnixFileMode)Convert.ToInt32("644", 8));
        lkg.Save(new ConfigContent(2, []));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(lkg.Path));
        Assert.Equal(LastKnownGood.Format(new ConfigContent(2, [])), File.ReadAllText(lkg.Path));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void An_existing_world_readable_data_directory_is_tightened()
    {
        var data = Path.Combine(_directory, "old");
        Directory.CreateDirectory(data);
        File.SetUnixFileMode(data, (UnixFileMode)Convert.ToInt32("755", 8));
        var journal = Path.Combine(data, "journal.db");
        File.WriteAllText(journal, "x");
        File.SetUnixFileMode(journal, (UnixFileMode)Convert.ToInt32("644", 8));
        Assert.Contains("now 0700", PrivateFiles.CreateDataDirectory(data));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(data));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(journal));
        Assert.Null(PrivateFiles.CreateDataDirectory(data));
    }

    [Fact]
    public async Task Secrets_given_as_options_are_warned_about_and_never_echoed()
    {
        // Refused at once afterwards (remoting off loopback without TLS): the warnings come first.
        var run = await Akkal4Process.RunAsync(["run", "--remoting", "0.0.0.0:0", "--admin", "127.150.9.3:0", "--data", _directory,
            "--admin-token", "s3cret-token", "--admin-cert-password", "s3cret-pw", "--journal-connection", "Host=h;Pwd=s3cret-db"]);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--admin-token on the command line is readable by every user of this host (ps): give it in $AKKAL4_ADMIN_TOKEN instead", run.Stderr);
        Assert.Contains("--admin-cert-password on the command line", run.Stderr);
        Assert.Contains("--journal-connection on the command line", run.Stderr);
        Assert.DoesNotContain("--tls-cert-password", run.Stderr);
        Assert.DoesNotContain("s3cret", run.Stderr + run.Stdout);

        // The admin client commands put their token in ps too.
        var status = await Akkal4Process.RunAsync(["status", "--server", "http://127.150.9.4:1", "--token", "s3cret-token"]);
        Assert.Contains("--token on the command line is readable by every user of this host (ps): give it in $AKKAL4_ADMIN_TOKEN instead", status.Stderr);
        Assert.DoesNotContain("s3cret", status.Stderr + status.Stdout);

        var fromEnvironment = await Akkal4Process.RunAsync(["run", "--remoting", "0.0.0.0:0", "--admin", "127.150.9.3:0", "--data", _directory],
            environment: new Dictionary<string, string> { ["AKKAL4_ADMIN_TOKEN"] = "s3cret-token" });
        Assert.Equal(2, fromEnvironment.ExitCode);
        Assert.DoesNotContain("warning", fromEnvironment.Stderr);
    }
}
