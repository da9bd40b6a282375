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

    /// <summary>Writes <paramref name="text"/> to a new file readable by its owner only (any old file there is replaced).</summary>
    public static void WriteAllText(string path, string text)
    {
        File.Delete(path);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnlyFile;
        using var writer = new StreamWriter(path, new System.Text.UTF8Encoding(false), options);
        writer.Write(text);
    }
}
