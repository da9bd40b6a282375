using System.Collections.Immutable;
using System.Text;
using Akka.Actor;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// Where a node's connections put their access-log entries: each connection formats its line into the pending text here,
/// on its own thread, and the <see cref="AccessLogWriter"/> writes what is pending every 100 ms (or every 32 KiB). The
/// writer is told once per batch, not once per connection: a message per connection (through the event stream) was a
/// thread-pool hop per connection (bench/README.md, session 10). Observers (tests, the allocation benchmark) see every
/// entry, whether or not lines are written.
/// </summary>
public sealed class AccessLogSink
{
    internal const int FlushAt = 32 * 1024;

    private readonly object _gate = new();
    private readonly AccessLogFormat _format;
    /// <summary>Lines not yet taken by the writer; swapped with <see cref="_writing"/> under <see cref="_gate"/>.</summary>
    private StringBuilder _pending = new(FlushAt + 4096);
    /// <summary>The writer's side of the swap: only its thread touches it.</summary>
    private StringBuilder _writing = new(FlushAt + 4096);
    /// <summary>The writer has been told of what is pending (once per batch), and of its reaching <see cref="FlushAt"/>.</summary>
    private bool _told, _toldFull;
    private IActorRef? _writer;

    /// <summary>The writer, once started with an output (tests stop it).</summary>
    internal IActorRef? Writer => _writer;
    private ImmutableArray<Action<AccessLogEntry>> _observers = [];

    /// <param name="output">Where lines go (null: nowhere; observers still see the entries).</param>
    public AccessLogSink(AccessLogOutput? output)
    {
        Output = output?.Output;
        _format = output?.Format ?? AccessLogFormat.Envoy;
    }

    internal TextWriter? Output { get; }

    /// <summary>Starts the writer (when there is an output) in <paramref name="system"/>, as <c>access-log</c>.</summary>
    public AccessLogSink Start(IActorRefFactory system)
    {
        if (Output is not null) _writer = system.ActorOf(AccessLogWriter.Props(this), "access-log");
        return this;
    }

    /// <summary>
    /// Calls <paramref name="observer"/> with every entry from now on, on the thread of the connection that ended (so it must
    /// be quick and thread-safe).
    /// </summary>
    public void Observe(Action<AccessLogEntry> observer) => ImmutableInterlocked.Update(ref _observers, list => list.Add(observer));

    /// <summary>One connection's entry, from its actor.</summary>
    public void Add(AccessLogEntry entry)
    {
        foreach (var observer in _observers) observer(entry);
        if (_writer is not { } writer) return;
        bool tell, full;
        lock (_gate)
        {
            entry.AppendTo(_pending, _format).Append('\n');
            tell = !_told;
            _told = true;
            full = !_toldFull && _pending.Length >= FlushAt;
            _toldFull |= full;
        }
        if (full) writer.Tell(AccessLogWriter.Full.Instance);
        else if (tell) writer.Tell(AccessLogWriter.Pending.Instance);
    }

    /// <summary>On the writer's thread: writes what is pending, in one call (Console.Out is synchronised, so the node's other log lines never land inside it).</summary>
    internal void WritePending(ref char[] chunk)
    {
        var writing = _writing;
        lock (_gate)
        {
            _writing = _pending;
            _pending = writing;
            _told = _toldFull = false;
        }
        writing = _writing;
        if (writing.Length == 0 || Output is not { } output) return;
        // From a reused array: a string per write was a few hundred bytes per connection.
        if (chunk.Length < writing.Length) chunk = new char[writing.Length];
        writing.CopyTo(0, chunk, writing.Length);
        output.Write(chunk, 0, writing.Length);
        output.Flush();
        writing.Clear();
    }
}

/// <summary>
/// Writes a node's access log (<see cref="AccessLogSink"/>) to its output (standard output or a file), whatever the log
/// level: lines gathered and written together every 100 ms, or once 32 KiB are pending. One write per connection through
/// the logger cost a twentieth of a relayed connection's CPU.
/// </summary>
public sealed class AccessLogWriter : UntypedActor, IWithTimers
{
    private static readonly TimeSpan FlushEvery = TimeSpan.FromMilliseconds(100);
    private readonly AccessLogSink _sink;
    private char[] _chunk = [];

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Lines are pending (told once per batch): written within 100 ms.</summary>
    internal sealed class Pending
    {
        public static readonly Pending Instance = new();
        private Pending() { }
    }

    /// <summary>32 KiB are pending: written now.</summary>
    internal sealed class Full
    {
        public static readonly Full Instance = new();
        private Full() { }
    }

    private sealed class Flush
    {
        public static readonly Flush Instance = new();
        private Flush() { }
    }

    internal static Props Props(AccessLogSink sink) => Akka.Actor.Props.Create(() => new AccessLogWriter(sink));

    public AccessLogWriter(AccessLogSink sink) => _sink = sink;

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Pending when !Timers.IsTimerActive("flush"): Timers.StartSingleTimer("flush", Flush.Instance, FlushEvery); break;
            case Pending: break;
            case Full or Flush:
                Timers.Cancel("flush");
                _sink.WritePending(ref _chunk);
                break;
            default: Unhandled(message); break;
        }
    }

    protected override void PostStop() => _sink.WritePending(ref _chunk);
}

/// <summary><c>--access-log</c> and <c>--access-log-format</c>: the writer lines go to (standard output, or a file opened for appending).</summary>
public sealed record AccessLogOutput(TextWriter Output, AccessLogFormat Format);
