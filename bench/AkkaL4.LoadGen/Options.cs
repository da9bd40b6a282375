using System.Globalization;
using System.Net;

namespace AkkaL4.LoadGen;

/// <summary><c>--name value</c> pairs after the mode; every option is read once and unknown ones are an error.</summary>
internal sealed class Options
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    private Options() { }

    public static Options Parse(IReadOnlyList<string> args)
    {
        var options = new Options();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
                throw new UsageException($"expected --option, got '{arg}'");
            var name = arg[2..];
            // A flag with no value (--reverse) is followed by another --option or by nothing.
            var value = i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : "true";
            if (!options._values.TryAdd(name, value)) throw new UsageException($"--{name} given twice");
        }
        return options;
    }

    public string? Get(string name)
    {
        _read.Add(name);
        return _values.GetValueOrDefault(name);
    }

    public string Required(string name) => Get(name) ?? throw new UsageException($"--{name} is required");

    public int Int(string name, int fallback)
    {
        var text = Get(name);
        if (text is null) return fallback;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < 0)
            throw new UsageException($"--{name} '{text}' is not a non-negative integer");
        return value;
    }

    public double Seconds(string name, double fallback) => Positive(name, fallback, "a positive number of seconds");

    /// <summary>A positive number (a rate), or <paramref name="fallback"/> when absent.</summary>
    public double Positive(string name, double fallback, string what = "a positive number")
    {
        var text = Get(name);
        if (text is null) return fallback;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value <= 0)
            throw new UsageException($"--{name} '{text}' is not {what}");
        return value;
    }

    public bool Flag(string name) => Get(name) is { } text && text != "false";

    public IPEndPoint EndPoint(string name)
    {
        var text = Required(name);
        if (!IPEndPoint.TryParse(text, out var endPoint) || endPoint.Port == 0)
            throw new UsageException($"--{name} '{text}' is not IP:PORT");
        return endPoint;
    }

    /// <summary>
    /// <c>--sources A-B</c> (an inclusive IPv4 range such as 127.0.100.1-127.0.100.50), or a single address, or
    /// a comma-separated list of either. Empty when the option is absent: the kernel picks the source.
    /// </summary>
    public IPAddress[] Sources(string name = "sources")
    {
        var text = Get(name);
        if (text is null) return [];
        var result = new List<IPAddress>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var dash = part.IndexOf('-');
            if (dash < 0)
            {
                result.Add(ParseIPv4(part));
                continue;
            }
            var first = ToUInt(ParseIPv4(part[..dash]));
            var last = ToUInt(ParseIPv4(part[(dash + 1)..]));
            if (last < first || last - first > 65535) throw new UsageException($"--{name} range '{part}' is empty or too large");
            for (var v = first; v <= last; v++) result.Add(FromUInt(v));
        }
        return [.. result];

        IPAddress ParseIPv4(string s) =>
            IPAddress.TryParse(s, out var a) && a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
                ? a
                : throw new UsageException($"--{name}: '{s}' is not an IPv4 address");
    }

    private static uint ToUInt(IPAddress address)
    {
        var b = address.GetAddressBytes();
        return (uint)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
    }

    private static IPAddress FromUInt(uint v) => new([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]);

    /// <summary>Throws when an option was given that the mode never asked for (a typo would otherwise be silently ignored).</summary>
    public void EnsureAllRead()
    {
        var unknown = _values.Keys.Where(k => !_read.Contains(k)).Select(k => "--" + k).ToList();
        if (unknown.Count > 0) throw new UsageException("unknown option(s) for this mode: " + string.Join(", ", unknown));
    }
}

internal sealed class UsageException(string message) : Exception(message);
