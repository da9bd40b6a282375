using System.Globalization;
using System.Text;

namespace AkkaL4.Messages.Model;

/// <summary>
/// A duration written the way Istio manifests write it (<c>10s</c>, <c>1.5s</c>, <c>500ms</c>,
/// <c>1h30m</c>). Keeps the exact nanosecond count so validation can reject sub-millisecond values.
/// </summary>
public readonly record struct Duration(long Nanoseconds)
{
    public TimeSpan ToTimeSpan() => TimeSpan.FromTicks(Nanoseconds / 100);

    public static Duration FromTimeSpan(TimeSpan span) => new(span.Ticks * 100);

    public bool IsZero => Nanoseconds == 0;

    private static readonly (string Unit, long Nanos)[] Units =
    [
        ("ns", 1L), ("us", 1_000L), ("µs", 1_000L), ("ms", 1_000_000L),
        ("s", 1_000_000_000L), ("m", 60_000_000_000L), ("h", 3_600_000_000_000L),
    ];

    /// <summary>Parses Go/protobuf duration text; returns false with a reason when it is not one.</summary>
    public static bool TryParse(string text, out Duration duration, out string error)
    {
        duration = default;
        error = "";
        var s = text.Trim();
        if (s.Length == 0) { error = "empty duration"; return false; }
        if (s == "0") return true;
        var negative = s[0] == '-';
        if (negative || s[0] == '+') s = s[1..];
        if (s.Length == 0) { error = $"'{text}' is not a duration: a sign alone"; return false; }
        decimal total = 0;
        var i = 0;
        while (i < s.Length)
        {
            var start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
            if (start == i) { error = $"'{text}' is not a duration (expected a number followed by a unit: 500ms, 10s, 1.5s, 1h)"; return false; }
            if (!decimal.TryParse(s.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            { error = $"'{text}' is not a duration: bad number"; return false; }
            var unitStart = i;
            while (i < s.Length && !char.IsAsciiDigit(s[i]) && s[i] != '.') i++;
            var unit = s[unitStart..i];
            var factor = Array.Find(Units, u => u.Unit == unit).Nanos;
            if (factor == 0)
            {
                error = unit.Length == 0
                    ? $"'{text}' is not a duration: missing unit (use ms, s, m or h)"
                    : $"'{text}' is not a duration: unknown unit '{unit}' (use ns, us, ms, s, m or h)";
                return false;
            }
            if (number > (long.MaxValue / 2 - total) / factor) { error = $"'{text}' is too long a duration"; return false; }
            total += number * factor;
        }
        if (decimal.Truncate(total) != total) { error = $"'{text}' is finer than a nanosecond"; return false; }
        duration = new Duration((long)(negative ? -total : total));
        return true;
    }

    public static Duration Parse(string text) =>
        TryParse(text, out var d, out var error) ? d : throw new FormatException(error);

    /// <summary>The shortest exact text form, e.g. <c>10s</c>, <c>1.5s</c>, <c>500ms</c>.</summary>
    public override string ToString()
    {
        if (Nanoseconds == 0) return "0s";
        var n = Math.Abs(Nanoseconds);
        var sb = new StringBuilder(Nanoseconds < 0 ? "-" : "");
        if (n % 1_000_000_000 == 0)
        {
            var secs = n / 1_000_000_000;
            if (secs % 3600 == 0) return sb.Append(secs / 3600).Append('h').ToString();
            if (secs % 60 == 0) return sb.Append(secs / 60).Append('m').ToString();
            return sb.Append(secs).Append('s').ToString();
        }
        if (n % 1_000_000 == 0 && n < 1_000_000_000) return sb.Append(n / 1_000_000).Append("ms").ToString();
        var seconds = n / 1_000_000_000m;
        return sb.Append(seconds.ToString("0.#########", CultureInfo.InvariantCulture)).Append('s').ToString();
    }
}
