using System.Globalization;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.Upstreams.Health;

/// <summary>
/// Active TCP health checks for a cluster, asked for by its DestinationRule's annotation
/// <c>akkal4.io/health-check: "interval=5s,timeout=1s,unhealthy=3,healthy=2"</c> (beyond Istio, which has
/// none: HAProxy's <c>check inter/rise/fall</c>). A check is a TCP connect that succeeds within the timeout.
/// </summary>
public sealed record HealthCheckPolicy(TimeSpan Interval, TimeSpan Timeout, int UnhealthyThreshold, int HealthyThreshold)
{
    public const string Annotation = "akkal4.io/health-check";

    public static readonly HealthCheckPolicy Defaults = new(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1), 3, 2);

    private const int MaxThreshold = 1000;
    private static readonly TimeSpan MaxInterval = TimeSpan.FromHours(1);

    /// <summary>The policy a DestinationRule asks for (null: no annotation, or one that does not parse; validation reports that).</summary>
    public static HealthCheckPolicy? Of(ObjectMeta metadata) =>
        metadata.Annotations.TryGetValue(Annotation, out var text) && TryParse(text, out var policy, out _) ? policy : null;

    /// <summary>
    /// Parses <c>key=value</c> pairs separated by commas; keys left out keep <see cref="Defaults"/>. Errors name
    /// the key (<c>metadata.annotations["akkal4.io/health-check"].interval</c>) and say what is wrong.
    /// </summary>
    public static bool TryParse(string text, out HealthCheckPolicy policy, out IReadOnlyList<(string Field, string Message)> errors)
    {
        var found = new List<(string Field, string Message)>();
        var result = Defaults;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var path = $"metadata.annotations[\"{Annotation}\"]";
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (part.Length == 0) continue;
            var eq = part.IndexOf('=');
            if (eq <= 0)
            {
                found.Add((path, $"'{Diagnostic.Quote(part)}' is not key=value (keys: interval, timeout, unhealthy, healthy)"));
                continue;
            }
            var key = part[..eq].Trim();
            var value = part[(eq + 1)..].Trim();
            var field = $"{path}.{key}";
            if (!seen.Add(key)) { found.Add((field, $"'{key}' is given twice")); continue; }
            switch (key)
            {
                case "interval":
                    if (Time(field, value, found) is { } interval) result = result with { Interval = interval };
                    break;
                case "timeout":
                    if (Time(field, value, found) is { } timeout) result = result with { Timeout = timeout };
                    break;
                case "unhealthy":
                    if (Count(field, value, found) is { } unhealthy) result = result with { UnhealthyThreshold = unhealthy };
                    break;
                case "healthy":
                    if (Count(field, value, found) is { } healthy) result = result with { HealthyThreshold = healthy };
                    break;
                default:
                    found.Add((field, $"unknown key '{Diagnostic.Quote(key)}' (keys: interval, timeout, unhealthy, healthy)"));
                    break;
            }
        }
        if (found.Count == 0 && result.Timeout > result.Interval)
            found.Add(($"{path}.timeout", $"timeout {Show(result.Timeout)} is longer than interval {Show(result.Interval)}: checks of one endpoint would overlap"));
        policy = result;
        errors = found;
        return found.Count == 0;
    }

    private static TimeSpan? Time(string field, string value, List<(string, string)> errors)
    {
        if (!Duration.TryParse(value, out var d, out var error)) { errors.Add((field, error)); return null; }
        if (d.Nanoseconds < 1_000_000) { errors.Add((field, $"duration {d} must be at least 1ms")); return null; }
        if (d.Nanoseconds % 1_000_000 != 0) { errors.Add((field, $"duration {d} is finer than a millisecond")); return null; }
        if (d.ToTimeSpan() > MaxInterval) { errors.Add((field, $"duration {d} is longer than {Show(MaxInterval)}")); return null; }
        return d.ToTimeSpan();
    }

    private static int? Count(string field, string value, List<(string, string)> errors)
    {
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= MaxThreshold) return n;
        errors.Add((field, $"'{Diagnostic.Quote(value)}' is not a whole number from 1 to {MaxThreshold}"));
        return null;
    }

    private static string Show(TimeSpan span) => Duration.FromTimeSpan(span).ToString();

    public override string ToString() =>
        $"interval={Show(Interval)},timeout={Show(Timeout)},unhealthy={UnhealthyThreshold},healthy={HealthyThreshold}";
}
