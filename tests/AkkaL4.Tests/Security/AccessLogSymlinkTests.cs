using AkkaL4.Actors.DataPlane;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Security;

/// <summary>
/// sec14 B3: the access log followed a symbolic link planted at its path (another local user, in a directory they may
/// write), appending client-chosen text to any file the node's user may write. Now the open refuses a link at the path
/// (O_NOFOLLOW on Linux), and <c>akkal4 run</c> says so and exits 2. Real links in a temporary directory; the CLI test
/// starts no node (it stops before).
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class AccessLogSymlinkTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("akkal4-sec15-log-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void The_access_log_is_not_opened_through_a_link_existing_or_dangling()
    {
        var victim = Path.Combine(_directory, "profile");
        File.WriteAllText(victim, "mine\n");
        var link = Path.Combine(_directory, "access.log");
        File.CreateSymbolicLink(link, victim);
        var dangling = Path.Combine(_directory, "dangling.log");
        var created = Path.Combine(_directory, "created-through-the-link");
        File.CreateSymbolicLink(dangling, created);

        Assert.Contains($"{link} is a symbolic link: the access log is never written through one", Assert.Throws<IOException>(() => AccessLogFile.Open(link)).Message);
        Assert.Throws<IOException>(() => AccessLogFile.Open(dangling));

        Assert.Equal("mine\n", File.ReadAllText(victim));
        Assert.False(File.Exists(created), "the open created the file a dangling link points to");
        // A file of its own is appended to, as before.
        var own = Path.Combine(_directory, "own.log");
        File.WriteAllText(own, "a");
        using (var stream = AccessLogFile.Open(own)) stream.WriteByte((byte)'b');
        Assert.Equal("ab", File.ReadAllText(own));
    }

    [Fact]
    public async Task Run_refuses_an_access_log_path_that_is_a_link_naming_the_option()
    {
        var victim = Path.Combine(_directory, "victim");
        File.WriteAllText(victim, "mine\n");
        var link = Path.Combine(_directory, "akkal4.log");
        File.CreateSymbolicLink(link, victim);

        var run = await Akkal4Process.RunAsync(["run", "--access-log", link, "--remoting", "127.196.3.1:0", "--admin", "127.196.3.1:0", "--data", Path.Combine(_directory, "data")]);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains($"akkal4: --access-log {link}: {link} is a symbolic link", run.Stderr);
        Assert.Equal("mine\n", File.ReadAllText(victim));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Run_refuses_a_fifo_at_the_access_log_path_at_once_instead_of_hanging_at_start()
    {
        // review1-s16 R2: any local user may mkfifo /tmp/access.log; an O_WRONLY open of it without a reader blocked for ever.
        var fifo = Path.Combine(_directory, "access.log");
        Assert.Equal(0, mkfifo(fifo, 0x1B6));

        var run = await Akkal4Process.RunAsync(["run", "--access-log", fifo, "--remoting", "127.199.100.1:0", "--admin", "127.199.100.1:0", "--data", Path.Combine(_directory, "data")],
            timeout: TimeSpan.FromSeconds(60));

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains($"akkal4: --access-log {fifo}: {fifo} is not a regular file", run.Stderr);
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int mkfifo(string path, int mode);
}
