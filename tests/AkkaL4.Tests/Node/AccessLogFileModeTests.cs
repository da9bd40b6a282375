using AkkaL4.Actors.DataPlane;

namespace AkkaL4.Tests.Node;

/// <summary>The access-log file holds every client's address and SNI: created owner-only (sec13 #6).</summary>
[Trait("Category", "Unit")]
public sealed class AccessLogFileModeTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("akkal4-sec13-low-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void A_new_access_log_file_is_readable_by_its_owner_only_and_an_existing_one_keeps_its_mode()
    {
        var path = Path.Combine(_directory, "access.log");
        using (var created = AccessLogFile.Open(path)) created.WriteByte((byte)'a');
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));

        var shared = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;
        File.SetUnixFileMode(path, shared);
        using (var appended = AccessLogFile.Open(path)) appended.WriteByte((byte)'b');
        Assert.Equal(shared, File.GetUnixFileMode(path));
        Assert.Equal("ab", File.ReadAllText(path));
    }
}
