using System.Globalization;
using System.Text;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// One line per finished connection, with Envoy tcp_proxy's access-log fields. Published on the
/// actor system's event stream (tests and other sinks subscribe) and written to the log.
/// </summary>
public sealed record AccessLogEntry(
    DateTimeOffset Start,
    TimeSpan Duration,
    string Source,
    string Listener,
    string? Gateway,
    string? VirtualService,
    int? Rule,
    string? Cluster,
    string? Upstream,
    long BytesReceived,
    long BytesSent,
    ResponseFlags Flags,
    string Detail,
    string? Sni = null)
{
    public override string ToString() => AppendTo(new StringBuilder(256)).ToString();

    /// <summary>
    /// Writes the line into <paramref name="sb"/>: the access log appends every entry to one buffer this way,
    /// with no string of its own per entry (the timestamp and numbers are formatted in place).
    /// </summary>
    public StringBuilder AppendTo(StringBuilder sb)
    {
        var invariant = CultureInfo.InvariantCulture;
        sb.Append("access start=").Append(invariant, $"{Start.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fff}").Append('Z');
        sb.Append(" duration=").Append((long)Duration.TotalMilliseconds).Append("ms");
        sb.Append(" src=").Append(Source).Append(" listener=").Append(Listener);
        if (Gateway is not null) sb.Append(" gateway=").Append(Gateway);
        // Envoy's requested_server_name: only on listeners that read the ClientHello.
        if (Sni is not null) sb.Append(" sni=").Append(Sni);
        sb.Append(" vs=").Append(VirtualService ?? "-").Append(" rule=");
        if (Rule is { } rule) sb.Append(rule);
        else sb.Append('-');
        sb.Append(" cluster=").Append(Cluster ?? "-").Append(" upstream=").Append(Upstream ?? "-");
        sb.Append(" rx=").Append(BytesReceived).Append(" tx=").Append(BytesSent);
        sb.Append(" flags=").Append(ResponseFlagNames.Format(Flags));
        sb.Append(" detail=\"").Append(Detail).Append('"');
        return sb;
    }
}
