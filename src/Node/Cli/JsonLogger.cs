using System.Text.Json;
using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace AkkaL4.Node.Cli;

/// <summary>
/// <c>run --log-format json</c>: Akka's log events as one JSON object per line on standard output
/// (<c>time</c>, <c>level</c>, <c>logger</c>, <c>message</c>, <c>error</c>), for log collectors that parse JSON.
/// </summary>
public sealed class JsonLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    public const string TypeName = "AkkaL4.Node.Cli.JsonLogger, akkal4";

    public JsonLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        // Akka's log filters (the cluster side's OrderlyLeaveLogFilter), which its own standard-out logger applies too.
        var filter = Context.System.Settings.LogFilter;
        Receive<LogEvent>(e =>
        {
            // (Evaluating formats the whole event: skipped where there is no filter, the data plane's system.)
            if (ReferenceEquals(filter, LogFilterEvaluator.NoFilters) || filter.ShouldTryKeepMessage(e, out _)) Console.Out.WriteLine(Format(e));
        });
    }

    public static string Format(LogEvent e)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("time", e.Timestamp.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("level", e.LogLevel() switch
            {
                LogLevel.DebugLevel => "debug", LogLevel.InfoLevel => "info", LogLevel.WarningLevel => "warning", _ => "error",
            });
            json.WriteString("logger", e.LogSource);
            json.WriteString("message", e.Message?.ToString() ?? "");
            if (e.Cause is { } cause) json.WriteString("error", cause.ToString());
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
