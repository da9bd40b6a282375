namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// The access-log detail of a connection's connect attempts: each failure once, a repeat of the one before counted
/// (<c>connect to 10.0.0.1:9000 failed: Connection refused (3×)</c>) rather than written out again per attempt.
/// </summary>
internal static class AttemptDetail
{
    public static string Add(string detail, string failure)
    {
        if (detail.Length == 0) return failure;
        if (detail == failure || detail.EndsWith("; " + failure, StringComparison.Ordinal)) return $"{detail} (2×)";
        // Already counted: "<failure> (N×)" at the end.
        var open = detail.LastIndexOf(" (", StringComparison.Ordinal);
        if (open > 0 && detail.EndsWith("×)", StringComparison.Ordinal) && int.TryParse(detail.AsSpan(open + 2, detail.Length - open - 4), out var times))
        {
            var before = detail[..open];
            if (before == failure || before.EndsWith("; " + failure, StringComparison.Ordinal)) return $"{before} ({times + 1}×)";
        }
        return $"{detail}; {failure}";
    }
}
