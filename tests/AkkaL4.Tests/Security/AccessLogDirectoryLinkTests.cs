using System.Runtime.InteropServices;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Security;

/// <summary>
/// review1-s15 R4: O_NOFOLLOW guarded only the access log's last name; a link among its directories was followed, so a
/// user who could make or replace <c>/tmp/akkal4</c> had <c>/tmp/akkal4/access.log</c> created in a directory of their
/// choice. Now such a link is followed only when neither it nor its directory can be changed by another user. Real
/// directories and links in a temporary directory; the ownership cases change owners, so they need root.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class AccessLogDirectoryLinkTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("akkal4-sec16-log-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private string Made(string name, UnixFileMode mode)
    {
        var path = Path.Combine(_directory, name);
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(path, mode);
        return path;
    }

    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode Everyone = Private | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void A_link_among_the_directories_in_a_directory_others_may_write_is_not_followed()
    {
        var victim = Made("victim", Private);
        var shared = Made("shared", Everyone);
        var link = Path.Combine(shared, "akkal4");
        Directory.CreateSymbolicLink(link, victim);

        var refused = Assert.Throws<IOException>(() => AccessLogFile.Open(Path.Combine(link, "access.log")));

        Assert.Contains($"{link} is a symbolic link in {shared}, a directory other users may write (mode 0777, not sticky)", refused.Message);
        Assert.False(File.Exists(Path.Combine(victim, "access.log")), "the log was created where the planted link points");
        // The same link reached through a link of the node's own (the target's directories are walked the same way).
        var own = Made("own", Private);
        Directory.CreateSymbolicLink(Path.Combine(own, "logs"), "../shared/akkal4");
        Assert.Contains("is a symbolic link in", Assert.Throws<IOException>(() => AccessLogFile.Open(Path.Combine(own, "logs", "access.log"))).Message);
        Assert.False(File.Exists(Path.Combine(victim, "access.log")));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void The_operators_own_links_are_followed_absolute_relative_and_chained()
    {
        var volume = Made("volume", Private);
        var own = Made("own", Private);
        Directory.CreateSymbolicLink(Path.Combine(own, "absolute"), volume);
        Directory.CreateSymbolicLink(Path.Combine(own, "relative"), "../volume");
        Directory.CreateSymbolicLink(Path.Combine(own, "chained"), "relative");
        // A sticky directory others may write (as /tmp): a link the node's user made there cannot be replaced by them.
        var sticky = Made("sticky", Everyone | UnixFileMode.StickyBit);
        Directory.CreateSymbolicLink(Path.Combine(sticky, "mine"), volume);

        foreach (var (via, line) in new[] { ("own/absolute", "a"), ("own/relative", "b"), ("own/chained", "c"), ("sticky/mine", "d") })
            using (var stream = AccessLogFile.Open(Path.Combine(_directory, via, "access.log"))) stream.WriteByte((byte)line[0]);

        Assert.Equal("abcd", File.ReadAllText(Path.Combine(volume, "access.log")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(volume, "access.log")));
        // A missing directory is named.
        Assert.Contains($"{Path.Combine(own, "missing")}: No such file or directory",
            Assert.Throws<IOException>(() => AccessLogFile.Open(Path.Combine(own, "missing", "access.log"))).Message);
    }

    [RootFact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void A_link_another_user_owns_or_in_their_directory_is_not_followed_even_where_others_cannot_write()
    {
        var victim = Made("victim", Private);
        var sticky = Made("sticky", Everyone | UnixFileMode.StickyBit);
        var theirs = Path.Combine(sticky, "theirs");
        Directory.CreateSymbolicLink(theirs, victim);
        Assert.Equal(0, lchown(theirs, Nobody, Nobody));
        var their = Made("their-directory", Private | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        var inTheirs = Path.Combine(their, "mine");
        Directory.CreateSymbolicLink(inTheirs, victim);
        Assert.Equal(0, lchown(their, Nobody, Nobody));

        Assert.Contains($"{theirs} is a symbolic link owned by uid {Nobody}",
            Assert.Throws<IOException>(() => AccessLogFile.Open(Path.Combine(theirs, "access.log"))).Message);
        // A link of the node's own in a directory another user owns: that directory is refused on the way (review1-s16 R2).
        Assert.Contains($"{their} is a directory owned by uid {Nobody}",
            Assert.Throws<IOException>(() => AccessLogFile.Open(Path.Combine(inTheirs, "access.log"))).Message);
        Assert.False(File.Exists(Path.Combine(victim, "access.log")));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task A_named_pipe_planted_at_the_path_is_refused_at_once_not_waited_on()
    {
        var pipe = Path.Combine(_directory, "access.log");
        Assert.Equal(0, mkfifo(pipe, 0x1B6));

        var open = Task.Run(() => AccessLogFile.Open(pipe));
        var refused = await Assert.ThrowsAsync<IOException>(() => open.WaitAsync(TimeSpan.FromSeconds(20)));

        Assert.Contains($"{pipe} is not a regular file", refused.Message);
    }

    [RootFact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void A_file_another_user_planted_at_the_path_is_not_appended_to()
    {
        var planted = Path.Combine(Made("logs", Private), "access.log");
        File.WriteAllText(planted, "");
        File.SetUnixFileMode(planted, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite
            | UnixFileMode.OtherRead | UnixFileMode.OtherWrite);
        Assert.Equal(0, lchown(planted, Nobody, Nobody));

        Assert.Contains($"{planted} is owned by uid {Nobody} (neither root nor this node's user",
            Assert.Throws<IOException>(() => AccessLogFile.Open(planted)).Message);
        Assert.Equal(0, new FileInfo(planted).Length);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int mkfifo(string path, int mode);

    private const int Nobody = 65534;

    [DllImport("libc", SetLastError = true)]
    private static extern int lchown(string path, int owner, int group);

    [DllImport("libc")]
    private static extern uint geteuid();

    /// <summary>Giving a file to another user takes root.</summary>
    private sealed class RootFactAttribute : FactAttribute
    {
        public RootFactAttribute()
        {
            if (!OperatingSystem.IsLinux() || geteuid() != 0) Skip = "changes files' owners: needs root on Linux";
        }
    }
}
