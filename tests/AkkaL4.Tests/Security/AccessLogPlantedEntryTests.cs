using System.Runtime.InteropServices;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.Security.LogDirectory;

namespace AkkaL4.Tests.Security;

/// <summary>
/// review1-s16 R2: a link another user planted among the access log's directories was refused, but the same planting as a
/// directory (<c>/tmp/akkal4</c> theirs, with their own <c>access.log</c>, 0666, in it) was walked through and their file
/// appended to; and a FIFO at the path (any user can make one in <c>/tmp</c>) blocked the open, so <c>akkal4 run</c> hung at
/// start. Now every directory on the way must be root's or the node user's, the one holding the log must not be writable by
/// others (unless sticky), and the last name must be a regular file of root's or the node user's. Real files in a temporary
/// directory; planting another user's entries changes owners, so those facts need root. review1-s16 R8: a hard link at the
/// path (another name for a file of root's or the node user's) passed the owner check; a file with more than one name is
/// refused now.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class AccessLogPlantedEntryTests : IDisposable
{
    private readonly LogDirectory _logs = new("akkal4-fix16a-log-");

    public void Dispose() => _logs.Dispose();

    [RootFact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void A_directory_another_user_made_is_not_entered_as_a_link_of_theirs_is_not_followed()
    {
        // As another user would, before the operator's mkdir -p: their directory (0755), their file in it (0666).
        var theirs = _logs.Made("akkal4", Private | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var planted = Theirs(Path.Combine(theirs, "access.log"));
        GiveAway(theirs);
        // And a directory of the node's user below theirs: they can still rename or replace it.
        var below = Path.Combine(theirs, "mine");
        Directory.CreateDirectory(below);

        var refused = Assert.Throws<IOException>(() => AccessLogFile.Open(planted));
        Assert.Contains($"{planted}: {theirs} is a directory owned by uid {Nobody} (neither root nor this node's user, uid 0)", refused.Message);
        Assert.Contains("make the directory as the node's user", refused.Message);
        Assert.Contains($"{theirs} is a directory owned by uid {Nobody}",
            Assert.Throws<IOException>(() => AccessLogFile.Open(Path.Combine(below, "access.log"))).Message);
        Assert.Equal("", File.ReadAllText(planted));
        Assert.False(File.Exists(Path.Combine(below, "access.log")));
    }

    [RootFact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void An_existing_file_another_user_owns_is_not_appended_to_even_in_a_sticky_directory()
    {
        var sticky = _logs.Made("tmp", Everyone | UnixFileMode.StickyBit);
        var planted = Theirs(Path.Combine(sticky, "access.log"));

        var refused = Assert.Throws<IOException>(() => AccessLogFile.Open(planted));

        Assert.Contains($"{planted} is owned by uid {Nobody} (neither root nor this node's user, uid 0)", refused.Message);
        Assert.Equal("", File.ReadAllText(planted));
        // The node's own file there is appended to (the sticky directory itself is fine: /tmp).
        var own = Path.Combine(sticky, "own.log");
        using (var stream = AccessLogFile.Open(own)) stream.WriteByte((byte)'a');
        Assert.Equal("a", File.ReadAllText(own));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void A_hard_link_at_the_path_is_not_appended_to_nor_the_file_it_names()
    {
        // review1-s16 R8: where fs.protected_hardlinks is 0 another user may link any file (root's .bashrc) into a directory
        // they can write, as /tmp: owner and type are the victim's own and passed. Made here by the test's own user, which
        // needs no such setting; the file's link count is what is refused.
        var victim = Path.Combine(_logs.Made("home", Private), ".bashrc");
        File.WriteAllText(victim, "mine\n");
        var planted = Path.Combine(_logs.Made("tmp", Everyone | UnixFileMode.StickyBit), "access.log");
        Assert.Equal(0, link(victim, planted));

        var refused = Assert.Throws<IOException>(() => AccessLogFile.Open(planted));

        Assert.Contains($"{planted} has 2 hard links", refused.Message);
        Assert.Contains($"remove {planted} (the node creates it anew", refused.Message);
        Assert.Contains($"{victim} has 2 hard links", Assert.Throws<IOException>(() => AccessLogFile.Open(victim)).Message);
        Assert.Equal("mine\n", File.ReadAllText(victim));
        // One name again: appended to as before.
        File.Delete(planted);
        using (var stream = AccessLogFile.Open(victim)) stream.WriteByte((byte)'a');
        Assert.Equal("mine\na", File.ReadAllText(victim));
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task A_fifo_at_the_path_is_refused_at_once_with_or_without_a_reader_and_so_is_a_device()
    {
        var fifo = Path.Combine(_logs.Location, "access.log");
        Assert.Equal(0, mkfifo(fifo, 0x1B6));
        var open = Task.Run(() => AccessLogFile.Open(fifo).Dispose());
        // Without a reader an O_WRONLY open of a FIFO blocks for ever; a reader unblocks a stuck open so the host is not left with it.
        var finished = await Task.WhenAny(open, Task.Delay(TimeSpan.FromSeconds(10))) == open;
        if (!finished) close(open_(fifo, ReadOnly | NonBlock));
        Assert.True(finished, "AccessLogFile.Open of a FIFO without a reader blocked (10 s): run would hang at start");
        var refused = await Assert.ThrowsAsync<IOException>(() => open);
        Assert.Contains($"{fifo} is not a regular file", refused.Message);

        // With a reader (another user holding it open) the open succeeds, and the check of what was opened refuses it.
        var reader = open_(fifo, ReadOnly | NonBlock);
        Assert.True(reader >= 0);
        try
        {
            Assert.Contains($"{fifo} is a named pipe (FIFO), not a regular file", Assert.Throws<IOException>(() => AccessLogFile.Open(fifo)).Message);
        }
        finally
        {
            close(reader);
        }
        Assert.Contains("/dev/null is a character device, not a regular file", Assert.Throws<IOException>(() => AccessLogFile.Open("/dev/null")).Message);
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void The_directory_holding_the_log_must_not_be_writable_by_others_unless_sticky()
    {
        var shared = _logs.Made("shared", Everyone);
        var path = Path.Combine(shared, "access.log");

        var refused = Assert.Throws<IOException>(() => AccessLogFile.Open(path));

        Assert.Contains($"{path}: {shared}, the directory holding it, may be written by other users (mode 0777, not sticky)", refused.Message);
        Assert.False(File.Exists(path));
        // Passing through such a directory to one of the node's own is allowed (who writes it can only swap in entries of
        // their own, refused on the way); a private directory's log is appended to, and an existing one's mode kept.
        var inside = Path.Combine(shared, "mine");
        Directory.CreateDirectory(inside);
        File.SetUnixFileMode(inside, Private);
        using (var stream = AccessLogFile.Open(Path.Combine(inside, "access.log"))) stream.WriteByte((byte)'a');
        using (var stream = AccessLogFile.Open(Path.Combine(inside, "access.log"))) stream.WriteByte((byte)'b');
        Assert.Equal("ab", File.ReadAllText(Path.Combine(inside, "access.log")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(inside, "access.log")));
    }

    private const int ReadOnly = 0, NonBlock = 0x800;

    [DllImport("libc", SetLastError = true)]
    private static extern int mkfifo(string path, int mode);

    [DllImport("libc", SetLastError = true)]
    private static extern int link(string existing, string created);

    [DllImport("libc", SetLastError = true, EntryPoint = "open")]
    private static extern int open_(string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int close(int fd);
}
