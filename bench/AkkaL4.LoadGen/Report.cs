using System.Globalization;
using System.Text;

namespace AkkaL4.LoadGen;

/// <summary>
/// One result: printed as a machine-readable line, <c>result mode=... key=value ...</c> (no spaces inside
/// values; NaN when a value was not measured), then as a human line starting with <c>#</c>.
/// </summary>
internal sealed class Report(string mode)
{
    private readonly List<(string Key, string Value)> _fields = [("mode", mode)];

    public Report Add(string key, string value)
    {
        _fields.Add((key, value.Replace(' ', '_')));
        return this;
    }

    public Report Add(string key, long value) => Add(key, value.ToString(CultureInfo.InvariantCulture));

    public Report Add(string key, double value, int decimals = 1) =>
        Add(key, double.IsFinite(value) ? value.ToString("F" + decimals, CultureInfo.InvariantCulture) : "NaN");

    public void Print(string human)
    {
        var line = new StringBuilder("result");
        foreach (var (key, value) in _fields) line.Append(' ').Append(key).Append('=').Append(value);
        Console.Out.WriteLine(line.ToString());
        Console.Out.WriteLine("# " + human);
        Console.Out.Flush();
    }
}

internal static class Format
{
    public static string N(double value, int decimals = 1) =>
        double.IsFinite(value) ? value.ToString("N" + decimals, CultureInfo.InvariantCulture) : "n/a";
}
