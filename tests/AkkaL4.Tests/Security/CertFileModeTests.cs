using System.Security.Cryptography.X509Certificates;
using AkkaL4.Node.Cli;

namespace AkkaL4.Tests.Security;

/// <summary>
/// <c>cert create</c> writes a private key: the file it writes is a new inode, created owner-only, so neither a
/// descriptor opened on an older file at that path nor one opened while it was being written can read the key.
/// </summary>
[Trait("Category", "Unit")]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class CertFileModeTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("akkal4-cert-mode-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Force_writes_a_new_owner_only_file_that_a_descriptor_held_on_the_old_one_cannot_read()
    {
        var path = Path.Combine(_directory, "ca.p12");
        await File.WriteAllTextAsync(path, "old");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        // Another user's reader, opened while the file was 0644.
        await using var held = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

        var exit = await CertCommand.Create().Parse(["create", "--out", path, "--name", "mode", "--force"]).InvokeAsync();

        Assert.Equal(0, exit);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        var seen = new byte[64];
        var read = await held.ReadAsync(seen);
        Assert.True(System.Text.Encoding.ASCII.GetString(seen, 0, read) == "old",
            $"a descriptor opened on the old file before `cert create --force` read {read} bytes of the new one (its private key)");
        Assert.Contains(X509CertificateLoader.LoadPkcs12CollectionFromFile(path, null), c => c.HasPrivateKey);
    }

    [Fact]
    public async Task A_link_planted_at_the_path_is_replaced_not_written_through()
    {
        var path = Path.Combine(_directory, "ca.p12");
        var elsewhere = Path.Combine(_directory, "planted");
        File.CreateSymbolicLink(path, elsewhere);

        var refused = await CertCommand.Create().Parse(["create", "--out", path, "--name", "mode"]).InvokeAsync();
        Assert.Equal(2, refused);
        Assert.False(File.Exists(elsewhere));

        var exit = await CertCommand.Create().Parse(["create", "--out", path, "--name", "mode", "--force"]).InvokeAsync();

        Assert.Equal(0, exit);
        Assert.False(File.Exists(elsewhere), "cert create wrote the private key through a link planted at --out into the file it names");
        Assert.Null(new FileInfo(path).LinkTarget);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }
}
