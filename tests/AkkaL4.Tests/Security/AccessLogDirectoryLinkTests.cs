using System.Runtime.InteropServices;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.Security.LogDirectory;

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
    private readonly LogDirectory _logs = new("akkal4-sec16-log-");

    public void Dispose() => _logs.Dispose();

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void A_link_among_the_directories_in_a_directory_others_may_write_is_not_followed()
    {
        var victim = _logs.Made("victim", Private);
        var shared = _logs.Made("shared", Everyone);
        var link = Path.Combine(shared, "akkal4");
        Directory.CreateSymbolicLink(link, victim);

        var refused = Assert.Throws<IOException>(() => AccessLogFile.Open(Path.Combine(link, "access.log")));

        Assert.Contains($"{link} is a symbolic link in {shared}, a directory other users may write (mode 0777, not sticky)", refused.Message);
        Assert.False(File.Exists(Path.Combine(victim, "access.log")), "the log was created where the planted link points");
        // The same link reached through a link of the node's own (the target's directories are walked the same way).
        var own = _logs.Made("own", Private);
        Directory.CreateSymbolicLink(Path.Combine(own, "logs"), "../shared/akkal4");
        Assert.Contains("is a symbolic link in", Assert.Throws<IOException>(() => AccessLogFile.Open(Path.Combine(own, "logs", "access.log"))).Message);
        Assert.False(File.Exists(Path.Combine(victim, "access.log")));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void The_operators_own_links_are_followed_absolute_relative_and_chained()
    {
        var volume = _logs.Made("volume", Private);
        var own = _logs.Made("own", Private);
        Directory.CreateSymbolicLink(Path.Combine(own, "absolute"), volume);
        Directory.CreateSymbolicLink(Path.Combine(own, "relative"), "../volume");
        Directory.CreateSymbolicLink(Path.Combine(own, "chained"), "relative");
        // A sticky directory others may write (as /tmp): a link the node's user made there cannot be replaced by them.
        var sticky = _logs.Made("sticky", Everyone | UnixFileMode.StickyBit);
        Directory.CreateSymbolicLink(Path.Combine(sticky, "mine"), volume);

        foreach (var (via, line) in new[] { ("own/absolute", "a"), ("own/relative", "b"), ("own/chained", "c"), ("sticky/mine", "d") })
            using (var stream = AccessLogFile.Open(Path.Combine(_logs.Location, via, "access.log"))) stream.WriteByte((byte)line[0]);

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
        var victim = _logs.Made("victim", Private);
        var sticky = _logs.Made("sticky", Everyone | UnixFileMode.StickyBit);
        var theirs = Path.Combine(sticky, "theirs");
        Directory.CreateSymbolicLink(theirs, victim);
        GiveAway(theirs);
        var their = _logs.Made("their-directory", Private | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        var inTheirs = Path.Combine(their, "mine");
        Directory.CreateSymbolicLink(inTheirs, victim);
        GiveAway(their);

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
        var pipe = Path.Combine(_logs.Location, "access.log");
        Assert.Equal(0, mkfifo(pipe, 0x1B6));

        var open = Task.Run(() => AccessLogFile.Open(pipe));
        var refused = await Assert.ThrowsAsync<IOException>(() => open.WaitAsync(TimeSpan.FromSeconds(20)));

        Assert.Contains($"{pipe} is not a regular file", refused.Message);
    }

    [RootFact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void A_file_another_user_planted_at_the_path_is_not_appended_to()
    {
        var planted = Theirs(Path.Combine(_logs.Made("logs", Private), "access.log"));

        Assert.Contains($"{planted} is owned by uid {Nobody} (neither root nor this node's user",
            Assert.Throws<IOException>(() => AccessLogFile.Open(planted)).Message);
        Assert.Equal(0, new FileInfo(planted).Length);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int mkfifo(string path, int mode);
}
