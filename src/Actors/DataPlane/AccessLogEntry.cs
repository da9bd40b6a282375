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
    /// <summary>
    /// Envoy's default access-log format as its TCP proxy fills it (the HTTP fields are <c>-</c>):
    /// <c>[START_TIME] "- - -" 0 RESPONSE_FLAGS BYTES_RECEIVED BYTES_SENT DURATION - "-" "-" "-" "-" "UPSTREAM_HOST"</c>.
    /// </summary>
    public string ToEnvoy()
    {
        var sb = new StringBuilder(128);
        sb.Append('[').Append(Start.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)).Append("] \"- - -\" 0 ");
        sb.Append(ResponseFlagNames.Format(Flags)).Append(' ').Append(BytesReceived).Append(' ').Append(BytesSent).Append(' ');
        sb.Append((long)Duration.TotalMilliseconds).Append(" - \"-\" \"-\" \"-\" \"-\" \"").Append(Escape(Upstream ?? "-")).Append('"');
        return sb.ToString();
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
            json.WriteString("downstream_local_address", Listener);
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

    public string Format(AccessLogFormat format) => format == AccessLogFormat.Json ? ToJson() : ToEnvoy();

    /// <summary>Inside the quotes of a text line: quotes, backslashes and control characters escaped.</summary>
    private static string Escape(string value)
    {
        if (!value.Any(c => c is '"' or '\\' || char.IsControl(c))) return value;
        var sb = new StringBuilder(value.Length + 8);
        foreach (var c in value)
            sb.Append(c switch { '"' => "\\\"", '\\' => "\\\\", _ when char.IsControl(c) => $"\\x{(int)c:x2}", _ => c.ToString() });
        return sb.ToString();
    }

    public override string ToString() => ToEnvoy();
}

/// <summary><c>--access-log-format</c>: Envoy's default text line, or one JSON object per line.</summary>
public enum AccessLogFormat { Envoy, Json }
