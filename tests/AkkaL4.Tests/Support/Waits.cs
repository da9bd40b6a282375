namespace AkkaL4.Tests.Support;

/// <summary>
/// The one way tests wait for a condition: poll until it holds, fail with what was awaited at the deadline. Every test
/// file sees these without a <c>using</c> (a global static using in the project file). Classes whose waits are longer
/// (processes, clusters) pass their own timeout.
/// </summary>
internal static class Waits
{
    /// <summary>Upper bound for anything that should happen "at once" on loopback (generous for a loaded 2-core box).</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    /// <summary>Polls <paramref name="condition"/> until it holds; fails the test with <paramref name="what"/> at the deadline.</summary>
    public static Task EventuallyAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        EventuallyAsync(() => Task.FromResult(condition()), () => what, timeout);

    /// <summary>Polls <paramref name="condition"/> until it holds; <paramref name="what"/> is asked at the deadline, so it can show the last state seen.</summary>
    public static Task EventuallyAsync(Func<bool> condition, Func<string> what, TimeSpan? timeout = null) =>
        EventuallyAsync(() => Task.FromResult(condition()), what, timeout);

    /// <summary>Polls an async <paramref name="condition"/> until it holds; fails the test with <paramref name="what"/> at the deadline.</summary>
    public static Task EventuallyAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null) =>
        EventuallyAsync(condition, () => what, timeout);

    /// <summary>
    /// As above; <paramref name="what"/> is asked at the deadline, so it can show the last state seen. Polls every
    /// <paramref name="every"/> (10 ms unless given: a condition that asks a process over HTTP wants longer).
    /// </summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, Func<string> what, TimeSpan? timeout = null, TimeSpan? every = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Patience);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting until {what()}");
            await Task.Delay(every ?? TimeSpan.FromMilliseconds(10));
        }
    }
}
