using System.Globalization;
using System.Net;
using System.Text;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// One line per finished connection, with Envoy tcp_proxy's access-log fields. Handed to the node's
/// <see cref="AccessLogSink"/> (its observers see it) and written to the access log.
/// </summary>
/// <param name="Client">The client's address: as text (<see cref="Source"/>) only where a line shows it (JSON), not per connection.</param>
/// <param name="Local">The address the client dialled (Envoy's downstream_local_address), which a listener bound to
/// 0.0.0.0 does not say: as text only where a line shows it.</param>
/// <param name="Listener">The listener's name in the compiled configuration (also the metrics' label).</param>
public sealed record AccessLogEntry(
    DateTimeOffset Start,
    TimeSpan Duration,
    IPEndPoint Client,
    IPEndPoint Local,
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
    /// <summary>The client's address as text (Envoy's downstream_remote_address).</summary>
    public string Source => Client.ToString();

    /// <summary>
    /// Envoy's default access-log format as its TCP proxy fills it (the HTTP fields are <c>-</c>):
    /// <c>[START_TIME] "- - -" 0 RESPONSE_FLAGS BYTES_RECEIVED BYTES_SENT DURATION - "-" "-" "-" "-" "UPSTREAM_HOST"</c>.
    /// </summary>
    public string ToEnvoy() => AppendTo(new StringBuilder(128), AccessLogFormat.Envoy).ToString();

    /// <summary>
    /// Writes the line into <paramref name="sb"/>: the access log appends every entry to one buffer this way,
    /// with no string of its own per entry in Envoy's format (the timestamp and numbers are formatted in place).
    /// </summary>
    public StringBuilder AppendTo(StringBuilder sb, AccessLogFormat format)
    {
        if (format == AccessLogFormat.Json) return sb.Append(ToJson());
        sb.Append('[').Append(CultureInfo.InvariantCulture, $"{Start.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fff}").Append("Z] \"- - -\" 0 ");
        sb.Append(ResponseFlagNames.Format(Flags)).Append(' ').Append(BytesReceived).Append(' ').Append(BytesSent).Append(' ');
        sb.Append((long)Duration.TotalMilliseconds).Append(" - \"-\" \"-\" \"-\" \"-\" \"");
        AppendEscaped(sb, Upstream ?? "-");
        return sb.Append('"');
    }

    /// <summary>One JSON object, with the keys of Envoy's command operators (Istio's JSON access log) plus AkkaL4's routing fields.</summary>
    public string ToJson()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(512);
        using (var json = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("start_time", Start.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            json.WriteNumber("duration", (long)Duration.TotalMilliseconds);
            json.WriteString("downstream_remote_address", Source);
            json.WriteString("downstream_local_address", Local.ToString());
            json.WriteString("upstream_cluster", Cluster);
            json.WriteString("upstream_host", Upstream);
            json.WriteNumber("bytes_received", BytesReceived);
            json.WriteNumber("bytes_sent", BytesSent);
            json.WriteString("response_flags", ResponseFlagNames.Format(Flags));
            json.WriteString("connection_termination_details", Detail);
            // Envoy's requested_server_name: only on listeners that read the ClientHello.
            json.WriteString("requested_server_name", Sni);
            json.WriteString("gateway", Gateway);
            json.WriteString("virtual_service", VirtualService);
            if (Rule is { } rule) json.WriteNumber("rule", rule);
            else json.WriteNull("rule");
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Inside the quotes of a text line: quotes, backslashes and control characters escaped.</summary>
    private static void AppendEscaped(StringBuilder sb, string value)
    {
        foreach (var c in value)
        {
            if (c is '"' or '\\') sb.Append('\\').Append(c);
            else if (char.IsControl(c)) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
            else sb.Append(c);
        }
    }

    public override string ToString() => ToEnvoy();
}

/// <summary><c>--access-log-format</c>: Envoy's default text line, or one JSON object per line.</summary>
public enum AccessLogFormat { Envoy, Json }
