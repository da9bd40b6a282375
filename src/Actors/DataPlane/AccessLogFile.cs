using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// Opens the access-log file (<c>--access-log PATH</c>): appended to; when new, readable by the node's user only (every
/// client's address, the SNI it asked for and the upstream it reached are no other local user's business; an existing
/// file keeps its mode). Never through a symbolic link at the path (sec14 B3): in a directory other users may write
/// (<c>/tmp</c>), one of them could plant a link there before the node starts and have client-chosen text (SNI names)
/// appended to any file the node's user may write. On Linux the open itself refuses the link (<c>O_NOFOLLOW</c>), so
/// nothing can swap one in between a check and the open; links among the parent directories are followed, since whoever
/// controls a directory controls what is in it anyway.
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
        var fd = open(path, WriteOnly | Create | Append | CloseOnExec | NoFollow, OwnerReadWrite);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException(errno == LinkLoop ? Link(path) : $"{path}: {new Win32Exception(errno).Message}");
        }
        // O_APPEND: every write goes to the end, whatever position the stream keeps (pwrite on Linux appends too).
        return new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write);
    }

    private static string Link(string path) =>
        $"{path} is a symbolic link: the access log is never written through one (whoever can write its directory could point it at "
        + "any file this node's user may write); name the file itself, in a directory only the node's user writes (the standard output: stdout)";

    // Linux's values; O_NOFOLLOW differs by architecture (ARM and POWER have their own).
    private const int WriteOnly = 0x1, Create = 0x40, Append = 0x400, CloseOnExec = 0x80000, OwnerReadWrite = 0x180, LinkLoop = 40;

    private static readonly int NoFollow = RuntimeInformation.ProcessArchitecture is Architecture.Arm or Architecture.Arm64 or Architecture.Ppc64le
        ? 0x8000 : 0x20000;

    [DllImport("libc", SetLastError = true)]
    private static extern int open(string path, int flags, int mode);
}
