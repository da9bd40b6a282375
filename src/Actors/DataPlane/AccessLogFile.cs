using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// Opens the access-log file (<c>--access-log PATH</c>): appended to; when new, readable by the node's user only (every
/// client's address, the SNI it asked for and the upstream it reached are no other local user's business; an existing
/// file keeps its mode). Never through a symbolic link at the path (sec14 B3): in a directory other users may write
/// (<c>/tmp</c>), one of them could plant a link there before the node starts and have client-chosen text (SNI names)
/// appended to any file the node's user may write. Nor through a link among its directories that another user made or
/// could replace (review1-s15 R4: <c>/tmp/akkal4</c> made a link to a directory of their choice): on Linux the path is
/// walked one name at a time from descriptors, so what was checked is what is used, and a link is followed only when
/// both it and the directory holding it are root's or the node user's, and that directory is not writable by others
/// (or is sticky, as <c>/tmp</c>, where others cannot replace what is not theirs). Links made by the operator (a
/// <c>/var/log</c> moved to a volume) keep working. Nor in a directory another user made (review1-s16 R2: the same
/// <c>/tmp/akkal4</c> planted as a directory, where they decide what <c>access.log</c> is): every directory on the way must
/// be root's or the node user's, and the one holding the log not writable by others unless sticky (who may write a
/// directory further up can only swap in entries of their own, refused on the way; at the last one they could put a file
/// there). The last name is opened without blocking (a FIFO without a reader fails at once instead of holding <c>run</c> at
/// start for ever) nor becoming the node's terminal (<c>O_NOCTTY</c>), and used only when it is a regular file of root's
/// or the node user's with no other name (review1-s16 R8: where <c>fs.protected_hardlinks</c> is 0, another user may hard
/// link any file, root's <c>.bashrc</c> too, into a directory they can write, such as <c>/tmp</c>; owner and type are then
/// the victim's own).
/// </summary>
public static class AccessLogFile
{
    public static FileStream Open(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            // Elsewhere a check, then the open: a link planted between the two is followed (the race accepted off Linux).
            if (File.ResolveLinkTarget(path, returnFinalTarget: false) is not null) throw new IOException(Link(path));
            var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.ReadWrite };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            return new FileStream(path, options);
        }
        var full = Path.GetFullPath(path);
        var names = full.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (names.Length == 0) throw new IOException($"{path}: is a directory");
        var directory = new Walk(path);
        var fd = -1;
        try
        {
            directory.Root();
            directory.Through(names.AsSpan(0, names.Length - 1));
            directory.Holds();
            fd = openat(directory.Fd, names[^1], WriteOnly | Create | Append | CloseOnExec | NoFollow | NonBlock | NoControllingTerminal, OwnerReadWrite);
            if (fd < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                throw new IOException(errno switch
                {
                    LinkLoop => Link(path),
                    NoReader => NotAFile(path, "not a regular file (a named pipe without a reader, or a socket)"),
                    _ => $"{path}: {new Win32Exception(errno).Message}",
                });
            }
            var file = directory.Stat(fd, path);
            if (file.Type != RegularType) throw new IOException(NotAFile(path, $"{Kind(file.Type)}, not a regular file"));
            if (Stranger(file.Owner) is { } owner)
                throw new IOException($"{path} is {owner}: whoever owns it reads every line (client addresses, SNI names); the access log "
                    + "is appended only to a file of root's or this node's user: remove it (the node creates it, readable by its user only) or name another");
            if (file.Links > 1)
                throw new IOException($"{path} has {file.Links} hard links: another name of the same file may be anywhere on its file system (another "
                    + "user may link any file, root's own too, into a directory they can write), so the access log is appended only to a file with "
                    + $"one name: remove {path} (the node creates it anew, readable by its user only) or name another file");
            // Writes block as usual (O_NONBLOCK was for the open only: a FIFO without a reader fails instead of waiting).
            var flags = fcntl(fd, GetFlags);
            if (flags < 0 || fcntl(fd, SetFlags, flags & ~NonBlock) < 0) throw new IOException($"{path}: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");
        }
        catch
        {
            if (fd >= 0) close(fd);
            throw;
        }
        finally
        {
            directory.Close();
        }
        // O_APPEND: every write goes to the end, whatever position the stream keeps (pwrite on Linux appends too).
        return new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write);
    }

    private static string NotAFile(string path, string what) =>
        $"{path} is {what}: the access log is written only to a regular file (another user may make a pipe where others can write, "
        + "and an open of one without a reader waits for ever); name a file in a directory only the node's user writes (the standard output: stdout; none: off)";

    private static string Kind(int type) => type switch
    {
        FifoType => "a named pipe (FIFO)",
        CharacterType => "a character device",
        BlockType => "a block device",
        SocketType => "a socket",
        _ => $"a file of type 0{Convert.ToString(type >> 12, 8)}",
    };

    /// <summary>Whose an entry of <paramref name="owner"/> is when neither root's nor the node user's (for messages), or null.</summary>
    private static string? Stranger(uint owner) =>
        owner == 0 || owner == geteuid() ? null : $"owned by uid {owner} (neither root nor this node's user, uid {geteuid()})";

    private static string Link(string path) =>
        $"{path} is a symbolic link: the access log is never written through one (whoever can write its directory could point it at "
        + "any file this node's user may write); name the file itself, in a directory only the node's user writes (the standard output: stdout)";

    /// <summary>
    /// The directory reached so far, held by a descriptor (<c>O_PATH</c>), and the text that led there (for messages).
    /// Each step opens one name relative to it without following a link; a link is read from its own descriptor and its
    /// target walked the same way.
    /// </summary>
    private sealed class Walk(string path)
    {
        public int Fd { get; private set; } = -1;
        private string _shown = "/";
        private Status _status;
        private int _links;

        public void Root()
        {
            var fd = OpenRoot(path);
            Enter(fd, "/", StatOrClose(fd, "/"));
        }

        /// <summary>Goes on from the directory <paramref name="fd"/> (taking it) when it is root's or the node user's.</summary>
        private void Enter(int fd, string shown, Status status)
        {
            if (Stranger(status.Owner) is { } owner)
            {
                close(fd);
                throw new IOException($"{path}: {shown} is a directory {owner}, so that user decides what is in it (the log's name "
                    + "could be a file of theirs, or a pipe): the access log is written only in directories root or this node's user made; "
                    + "remove it and make the directory as the node's user (mkdir -m 0700), or keep the log in one of the node's own");
            }
            Close();
            Fd = fd;
            _shown = shown;
            _status = status;
        }

        /// <summary>Refuses the directory reached as the log's when users other than its owner may put entries in it.</summary>
        public void Holds()
        {
            if (OthersMayReplace(_status) is { } mode)
                throw new IOException($"{path}: {_shown}, the directory holding it, may be written by other users ({mode}): any of them "
                    + "could put a file of theirs, a pipe or a link at its name, or rename one of yours there; keep the log in a directory "
                    + "only the node's user (or root) writes (or a sticky one, as /tmp)");
        }

        public void Through(ReadOnlySpan<string> names)
        {
            foreach (var name in names)
            {
                if (name is "." or "") continue;
                var at = _shown == "/" ? "/" + name : $"{_shown}/{name}";
                var fd = openat(Fd, name, PathOnly | NoFollow | CloseOnExec, 0);
                if (fd < 0) throw Failed(at);
                var entry = StatOrClose(fd, at);
                switch (entry.Type)
                {
                    case DirectoryType:
                        Enter(fd, at, entry);
                        break;
                    case LinkType:
                        try
                        {
                            Follow(fd, at, entry);
                        }
                        finally
                        {
                            close(fd);
                        }
                        break;
                    default:
                        close(fd);
                        throw new IOException($"{path}: {at} is not a directory");
                }
            }
        }

        private void Follow(int link, string at, Status entry)
        {
            if (++_links > MaxLinks) throw new IOException($"{path}: more than {MaxLinks} symbolic links among its directories");
            if (Untrusted(entry) is { } why)
                throw new IOException($"{path}: {at} is a symbolic link {why}, so another user could point it elsewhere: the access log "
                    + "is written through a link among its directories only when root or this node's user made it and no other user can "
                    + "replace it; name the directory it points to, or keep the log in directories only the node's user (or root) writes");
            // A relative target goes on from the directory holding the link, where the walk still is.
            var target = ReadLink(link, at);
            if (target.StartsWith('/')) Root();
            Through(target.Split('/', StringSplitOptions.RemoveEmptyEntries));
        }

        /// <summary>
        /// Why a link <paramref name="entry"/> in the directory reached is not the node's own, or null (that directory's owner
        /// was checked when it was entered).
        /// </summary>
        private string? Untrusted(Status entry) =>
            Stranger(entry.Owner) ?? (OthersMayReplace(_status) is { } mode ? $"in {_shown}, a directory other users may write ({mode})" : null);

        /// <summary>The mode of a directory group or others may write and that is not sticky (so they can replace its entries), or null.</summary>
        private static string? OthersMayReplace(Status directory) =>
            (directory.Mode & OthersWrite) != 0 && (directory.Mode & Sticky) == 0
                ? $"mode {Convert.ToString(directory.Mode & 0xFFF, 8).PadLeft(4, '0')}, not sticky"
                : null;

        private IOException Failed(string at) => new($"{path}: {at}: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");

        private Status StatOrClose(int fd, string at)
        {
            try
            {
                return Stat(fd, at);
            }
            catch
            {
                close(fd);
                throw;
            }
        }

        public Status Stat(int fd, string at)
        {
            Span<byte> statx = stackalloc byte[256];
            if (Statx(fd, "", EmptyPath | SymlinkNoFollow, StatxType | StatxMode | StatxNlink | StatxUid, ref MemoryMarshal.GetReference(statx)) != 0) throw Failed(at);
            var mode = MemoryMarshal.Read<ushort>(statx[28..]);
            return new Status(mode & TypeMask, mode & ~TypeMask, MemoryMarshal.Read<uint>(statx[20..]), MemoryMarshal.Read<uint>(statx[16..]));
        }

        private string ReadLink(int link, string at)
        {
            var buffer = new byte[4096];
            var n = readlinkat(link, "", buffer, buffer.Length);
            if (n < 0) throw Failed(at);
            return Encoding.UTF8.GetString(buffer, 0, (int)n);
        }

        public void Close()
        {
            if (Fd >= 0) close(Fd);
            Fd = -1;
        }
    }

    private readonly record struct Status(int Type, int Mode, uint Owner, uint Links);

    private static int OpenRoot(string path)
    {
        var fd = openat(-100 /* AT_FDCWD */, "/", PathOnly | CloseOnExec, 0);
        return fd >= 0 ? fd : throw new IOException($"{path}: /: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");
    }

    // Linux's values; O_NOFOLLOW differs by architecture (ARM and POWER have their own), O_PATH and the statx layout do not.
    private const int WriteOnly = 0x1, Create = 0x40, Append = 0x400, CloseOnExec = 0x80000, PathOnly = 0x200000, OwnerReadWrite = 0x180, LinkLoop = 40;
    private const int EmptyPath = 0x1000, SymlinkNoFollow = 0x100, StatxType = 0x1, StatxMode = 0x2, StatxNlink = 0x4, StatxUid = 0x8;
    private const int NonBlock = 0x800, NoControllingTerminal = 0x100, NoReader = 6 /* ENXIO */, GetFlags = 3, SetFlags = 4;
    private const int TypeMask = 0xF000, DirectoryType = 0x4000, LinkType = 0xA000, RegularType = 0x8000, FifoType = 0x1000, CharacterType = 0x2000,
        BlockType = 0x6000, SocketType = 0xC000, OthersWrite = 0x12 /* group, other */, Sticky = 0x200;
    private const int MaxLinks = 40;

    private static readonly int NoFollow = RuntimeInformation.ProcessArchitecture is Architecture.Arm or Architecture.Arm64 or Architecture.Ppc64le
        ? 0x8000 : 0x20000;

    [DllImport("libc", SetLastError = true)]
    private static extern int openat(int dirfd, string path, int flags, int mode);

    [DllImport("libc", SetLastError = true)]
    private static extern int close(int fd);

    [DllImport("libc", SetLastError = true)]
    private static extern int fcntl(int fd, int command);

    [DllImport("libc", SetLastError = true)]
    private static extern int fcntl(int fd, int command, int argument);

    [DllImport("libc", SetLastError = true)]
    private static extern nint readlinkat(int dirfd, string path, byte[] buffer, nint size);

    [DllImport("libc", SetLastError = true, EntryPoint = "statx")]
    private static extern int Statx(int dirfd, string path, int flags, int mask, ref byte statx);

    [DllImport("libc")]
    private static extern uint geteuid();
}
