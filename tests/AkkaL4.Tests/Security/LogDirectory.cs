using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace AkkaL4.Tests.Security;

/// <summary>
/// A temporary directory for the access log's path checks (<see cref="AccessLogDirectoryLinkTests"/>,
/// <see cref="AccessLogPlantedEntryTests"/>): directories made with a given mode, and entries given to another user
/// (uid 65534) as that user would have planted them, which takes root (<see cref="RootFactAttribute"/>).
/// </summary>
internal sealed class LogDirectory(string prefix) : IDisposable
{
    public const int Nobody = 65534;
    public const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    public const UnixFileMode Everyone = Private | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
    public const UnixFileMode ReadableByAll = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;

    public string Location { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    public void Dispose() => Directory.Delete(Location, recursive: true);

    /// <summary>A directory <paramref name="name"/> in this one, with <paramref name="mode"/>.</summary>
    [SupportedOSPlatform("linux")]
    public string Made(string name, UnixFileMode mode)
    {
        var path = Path.Combine(Location, name);
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(path, mode);
        return path;
    }

    /// <summary>An empty file everyone may read and write, another user's (<see cref="Nobody"/>).</summary>
    [SupportedOSPlatform("linux")]
    public static string Theirs(string file)
    {
        File.WriteAllText(file, "");
        File.SetUnixFileMode(file, ReadableByAll);
        GiveAway(file);
        return file;
    }

    /// <summary>Gives <paramref name="path"/> itself (a link, not what it points to) to <see cref="Nobody"/>.</summary>
    public static void GiveAway(string path) => Assert.Equal(0, lchown(path, Nobody, Nobody));

    [DllImport("libc", SetLastError = true)]
    private static extern int lchown(string path, int owner, int group);
}

/// <summary>A fact that gives files to another user: it takes root on Linux, and is skipped elsewhere.</summary>
internal sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!OperatingSystem.IsLinux() || geteuid() != 0) Skip = "gives files to another user (uid 65534): needs root on Linux";
    }

    [DllImport("libc")]
    private static extern uint geteuid();
}
