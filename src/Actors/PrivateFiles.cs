using System.Runtime.InteropServices;

namespace AkkaL4.Actors;

/// <summary>
/// The node's data directory holds the whole configuration (last-known-good, the SQLite journal): other local
/// users have no business reading it, so what the node creates there is its owner's only (0700 / 0600).
/// </summary>
public static class PrivateFiles
{
    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates <paramref name="path"/> (and missing parents) owner-only; an existing directory keeps its mode.</summary>
    public static void CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(path);
        else Directory.CreateDirectory(path, OwnerOnlyDirectory);
    }

    /// <summary>
    /// The node's data directory, created owner-only; one that already exists (made by an older version, or by mkdir)
    /// with group/other bits is tightened to 0700, and the files in it to 0600. Returns what was done or, when this
    /// process may not change the modes (someone else's directory, e.g. a mounted volume), a warning; else null.
    /// </summary>
    public static string? CreateDataDirectory(string path)
    {
        CreateDirectory(path);
        if (OperatingSystem.IsWindows()) return null;
        var mode = File.GetUnixFileMode(path);
        var files = new List<string>();
        foreach (var file in Directory.GetFiles(path))
            if ((File.GetUnixFileMode(file) & ~OwnerOnlyFile) != 0) files.Add(file);
        if ((mode & ~OwnerOnlyDirectory) == 0 && files.Count == 0) return null;
        try
        {
            if ((mode & ~OwnerOnlyDirectory) != 0) File.SetUnixFileMode(path, mode & OwnerOnlyDirectory);
            foreach (var file in files) File.SetUnixFileMode(file, File.GetUnixFileMode(file) & OwnerOnlyFile);
            return $"data directory {path} was readable by other users: now 0700, its files 0600";
        }
        catch (UnauthorizedAccessException)
        {
            return $"warning: data directory {path} (mode {Convert.ToString((int)mode, 8)}) or its files are readable by other users and not this process's to change: make it 0700";
        }
    }

    /// <summary>
    /// Creates <paramref name="path"/> empty and readable by its owner only, unless it exists: for a file another library
    /// creates with the process umask (SQLite's journal.db, whose -wal and -journal files then take its mode).
    /// </summary>
    public static void CreateEmptyFile(string path)
    {
        if (File.Exists(path)) return;
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnlyFile;
        try
        {
            using var _ = new FileStream(path, options);
        }
        catch (IOException) when (File.Exists(path))
        {
            // Created meanwhile by someone else: its mode is theirs, and CreateDataDirectory reports it at the next start.
        }
    }

    /// <summary>Writes <paramref name="text"/> to a new file readable by its owner only (any old file there is replaced).</summary>
    public static void WriteAllText(string path, string text)
    {
        File.Delete(path);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnlyFile;
        using var writer = new StreamWriter(path, new System.Text.UTF8Encoding(false), options);
        writer.Write(text);
    }

    /// <summary>
    /// Writes <paramref name="parts"/>, one after another, to a new file readable by its owner only (any old file there is
    /// replaced), and flushes it to the disk before returning: a rename over a file that still had its bytes only in the
    /// page cache could leave, after a power loss, an empty or partial file under the final name.
    /// </summary>
    public static void WriteAllBytes(string path, IEnumerable<byte[]> parts)
    {
        File.Delete(path);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnlyFile;
        using var file = new FileStream(path, options);
        foreach (var part in parts) file.Write(part);
        file.Flush(flushToDisk: true);
        Synced?.Invoke(path);
    }

    /// <summary>
    /// Moves <paramref name="from"/> over <paramref name="to"/> (one rename) and, where the platform allows (not Windows, whose
    /// on Linux, flushes the directory so that the rename outlives a power loss too (a file system that cannot flush a
    /// directory, EINVAL, has nothing to flush).
    /// </summary>
    public static void Replace(string from, string to)
    {
        File.Move(from, to, overwrite: true);
        if (!OperatingSystem.IsLinux()) return;
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(to))!;
        var fd = open(directory, ReadOnly | DirectoryOnly | CloseOnExec);
        if (fd < 0) throw new IOException($"cannot open {directory} to flush it: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            if (fsync(fd) != 0 && Marshal.GetLastPInvokeError() is var errno and not InvalidArgument)
                throw new IOException($"cannot flush {directory}: errno {errno}");
        }
        finally
        {
            close(fd);
        }
        Synced?.Invoke(directory);
    }

    /// <summary>Tests only: each file or directory flushed to the disk, as it is.</summary>
    internal static event Action<string>? Synced;

    // Linux's values.
    private const int ReadOnly = 0, DirectoryOnly = 0x10000, CloseOnExec = 0x80000, InvalidArgument = 22;

    [DllImport("libc", SetLastError = true)]
    private static extern int open(string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int fsync(int fd);

    [DllImport("libc")]
    private static extern int close(int fd);
}
