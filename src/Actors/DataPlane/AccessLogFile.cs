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
/// appended to any file the node's user may write; nor into a file or pipe such a user planted at the path (they would read
/// the log). Nor through a link among its directories that another user made or
/// could replace (review1-s15 R4: <c>/tmp/akkal4</c> made a link to a directory of their choice): on Linux the path is
/// walked one name at a time from descriptors, so what was checked is what is used, and a link is followed only when
/// both it and the directory holding it are root's or the node user's, and that directory is not writable by others
/// (or is sticky, as <c>/tmp</c>, where others cannot replace what is not theirs). Links made by the operator (a
/// <c>/var/log</c> moved to a volume) keep working.
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
            directory.From(OpenRoot(path), "/");
            directory.Through(names.AsSpan(0, names.Length - 1));
            // O_NONBLOCK: a named pipe planted at the path, with nobody reading it, fails the open (ENXIO) instead of holding the start.
            fd = openat(directory.Fd, names[^1], WriteOnly | Create | Append | CloseOnExec | NoFollow | NonBlocking, OwnerReadWrite);
            if (fd < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                throw new IOException(errno switch
                {
                    LinkLoop => Link(path),
                    NoReader => NotAFile(path),
                    _ => $"{path}: {new Win32Exception(errno).Message}",
                });
            }
            // Planted before the node started by another user who can write the directory: a file of theirs (which they could
            // read, since an existing file keeps its mode), or a pipe they read. Only a regular file of root or the node's user.
            var me = geteuid();
            Status file;
            try
            {
                file = directory.Stat(fd, full);
            }
            catch
            {
                close(fd);
                throw;
            }
            if (file.Type != RegularType || (file.Owner != 0 && file.Owner != me))
            {
                close(fd);
                throw new IOException(file.Type != RegularType ? NotAFile(path)
                    : $"{path} belongs to uid {file.Owner}, neither root nor this node's user (uid {me}): whoever made it could read every client's "
                      + "address and SNI from it; remove it, or name a file in a directory only the node's user writes");
            }
        }
        finally
        {
            directory.Close();
        }
        // O_APPEND: every write goes to the end, whatever position the stream keeps (pwrite on Linux appends too).
        return new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write);
    }

    private static string Link(string path) =>
        $"{path} is a symbolic link: the access log is never written through one (whoever can write its directory could point it at "
        + "any file this node's user may write); name the file itself, in a directory only the node's user writes (the standard output: stdout)";

    private static string NotAFile(string path) =>
        $"{path} is not a regular file (a named pipe or a device): the access log is appended to a file of its own; --access-log off discards it, stdout prints it";

    /// <summary>
    /// The directory reached so far, held by a descriptor (<c>O_PATH</c>), and the text that led there (for messages).
    /// Each step opens one name relative to it without following a link; a link is read from its own descriptor and its
    /// target walked the same way.
    /// </summary>
    private sealed class Walk(string path)
    {
        public int Fd { get; private set; } = -1;
        private string _shown = "/";
        private int _links;

        public void From(int fd, string shown)
        {
            Close();
            Fd = fd;
            _shown = shown;
        }

        public void Through(ReadOnlySpan<string> names)
        {
            foreach (var name in names)
            {
                if (name is "." or "") continue;
                var at = _shown == "/" ? "/" + name : $"{_shown}/{name}";
                var fd = openat(Fd, name, PathOnly | NoFollow | CloseOnExec, 0);
                if (fd < 0) throw Failed(at);
                var entry = Stat(fd, at);
                switch (entry.Type)
                {
                    case DirectoryType:
                        From(fd, at);
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
            if (Untrusted(Stat(Fd, _shown), entry) is { } why)
                throw new IOException($"{path}: {at} is a symbolic link {why}, so another user could point it elsewhere: the access log "
                    + "is written through a link among its directories only when root or this node's user made it and no other user can "
                    + "replace it; name the directory it points to, or keep the log in directories only the node's user (or root) writes");
            // A relative target goes on from the directory holding the link, where the walk still is.
            var target = ReadLink(link, at);
            if (target.StartsWith('/')) From(OpenRoot(path), "/");
            Through(target.Split('/', StringSplitOptions.RemoveEmptyEntries));
        }

        /// <summary>Why a link <paramref name="entry"/> in the directory <paramref name="holder"/> is not the node's own, or null.</summary>
        private string? Untrusted(Status holder, Status entry)
        {
            var me = geteuid();
            if (entry.Owner != 0 && entry.Owner != me) return $"owned by uid {entry.Owner} (neither root nor this node's user, uid {me})";
            if (holder.Owner != 0 && holder.Owner != me) return $"in {_shown}, a directory owned by uid {holder.Owner} (neither root nor this node's user, uid {me})";
            if ((holder.Mode & OthersWrite) != 0 && (holder.Mode & Sticky) == 0)
                return $"in {_shown}, a directory other users may write (mode {Convert.ToString(holder.Mode & 0xFFF, 8).PadLeft(4, '0')}, not sticky)";
            return null;
        }

        private IOException Failed(string at) => new($"{path}: {at}: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");

        public Status Stat(int fd, string at)
        {
            Span<byte> statx = stackalloc byte[256];
            if (Statx(fd, "", EmptyPath | SymlinkNoFollow, StatxType | StatxMode | StatxUid, ref MemoryMarshal.GetReference(statx)) != 0) throw Failed(at);
            var mode = MemoryMarshal.Read<ushort>(statx[28..]);
            return new Status(mode & TypeMask, mode & ~TypeMask, MemoryMarshal.Read<uint>(statx[20..]));
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

    private readonly record struct Status(int Type, int Mode, uint Owner);

    private static int OpenRoot(string path)
    {
        var fd = openat(-100 /* AT_FDCWD */, "/", PathOnly | CloseOnExec, 0);
        return fd >= 0 ? fd : throw new IOException($"{path}: /: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");
    }

    // Linux's values; O_NOFOLLOW differs by architecture (ARM and POWER have their own), O_PATH and the statx layout do not.
    private const int WriteOnly = 0x1, Create = 0x40, Append = 0x400, CloseOnExec = 0x80000, PathOnly = 0x200000, OwnerReadWrite = 0x180, NonBlocking = 0x800, LinkLoop = 40, NoReader = 6;
    private const int EmptyPath = 0x1000, SymlinkNoFollow = 0x100, StatxType = 0x1, StatxMode = 0x2, StatxUid = 0x8;
    private const int TypeMask = 0xF000, DirectoryType = 0x4000, LinkType = 0xA000, RegularType = 0x8000, OthersWrite = 0x12 /* group, other */, Sticky = 0x200;
    private const int MaxLinks = 40;

    private static readonly int NoFollow = RuntimeInformation.ProcessArchitecture is Architecture.Arm or Architecture.Arm64 or Architecture.Ppc64le
        ? 0x8000 : 0x20000;

    [DllImport("libc", SetLastError = true)]
    private static extern int openat(int dirfd, string path, int flags, int mode);

    [DllImport("libc", SetLastError = true)]
    private static extern int close(int fd);

    [DllImport("libc", SetLastError = true)]
    private static extern nint readlinkat(int dirfd, string path, byte[] buffer, nint size);

    [DllImport("libc", SetLastError = true, EntryPoint = "statx")]
    private static extern int Statx(int dirfd, string path, int flags, int mask, ref byte statx);

    [DllImport("libc")]
    private static extern uint geteuid();
}
