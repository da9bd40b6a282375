using Akka.Actor;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// Writes each <see cref="AccessLogEntry"/> published on the event stream as one line (Envoy's format or JSON)
/// to its output (standard output or a file), whatever the log level. Lines are gathered and written together every
/// 100 ms (or every 32 KiB): one write per connection through the logger cost a twentieth of a
/// relayed connection's CPU.
/// </summary>
public sealed class AccessLogWriter : ReceiveActor, IWithTimers
{
    private const int FlushAt = 32 * 1024;
    private static readonly TimeSpan FlushEvery = TimeSpan.FromMilliseconds(100);
    private readonly System.Text.StringBuilder _pending = new(FlushAt + 4096); // one chunk: Clear keeps it
    /// <summary>What one write takes from <see cref="_pending"/>, reused: a string per write was a few hundred bytes per connection.</summary>
    private char[] _chunk = [];
    private readonly TextWriter _output;
    private readonly AccessLogFormat _format;

    public ITimerScheduler Timers { get; set; } = null!;

    private sealed record Flush;

    public static Props Props(TextWriter output, AccessLogFormat format = AccessLogFormat.Envoy) =>
        Akka.Actor.Props.Create(() => new AccessLogWriter(output, format));

    public AccessLogWriter(TextWriter output, AccessLogFormat format)
    {
        _output = output;
        _format = format;
        Receive<AccessLogEntry>(e =>
        {
            e.AppendTo(_pending, _format).Append('\n');
            if (_pending.Length >= FlushAt) WritePending();
            else if (!Timers.IsTimerActive("flush")) Timers.StartSingleTimer("flush", new Flush(), FlushEvery);
        });
        Receive<Flush>(_ => WritePending());
    }

    private void WritePending()
    {
        if (_pending.Length == 0) return;
        // One call: Console.Out is synchronised, so the node's other log lines never land inside it.
        if (_chunk.Length < _pending.Length) _chunk = new char[_pending.Length];
        _pending.CopyTo(0, _chunk, _pending.Length);
        _output.Write(_chunk, 0, _pending.Length);
        _output.Flush();
        _pending.Clear();
    }

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(AccessLogEntry));

    protected override void PostStop() => WritePending();
}

/// <summary><c>--access-log</c> and <c>--access-log-format</c>: the writer lines go to (standard output, or a file opened for appending).</summary>
public sealed record AccessLogOutput(TextWriter Output, AccessLogFormat Format);
