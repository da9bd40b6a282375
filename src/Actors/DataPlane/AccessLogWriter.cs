using System.Collections.Immutable;
using System.Text;
using Akka.Actor;
using Akka.Event;

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
    /// <summary>Pending characters beyond which a line is dropped and counted, not held (8 MiB, ~40,000 lines): an output
    /// that stalls (a full stdout pipe, a slow disk) must not take the node's memory with it (review2-s10 #3).</summary>
    internal const int MaxPending = 4 * 1024 * 1024;
    /// <summary>A builder (or the copy array) grown past this by a spike is shrunk back after its write.</summary>
    private const int KeepCapacity = 4 * FlushAt;

    /// <summary>Each connection thread formats its line here, outside the node-wide lock (review2-s10 #4).</summary>
    [ThreadStatic] private static StringBuilder? t_line;

    private readonly object _gate = new();
    private readonly AccessLogFormat _format;
    /// <summary>Lines not yet taken by the writer; swapped with <see cref="_writing"/> under <see cref="_gate"/>.</summary>
    private StringBuilder _pending = new(FlushAt + 4096);
    /// <summary>The writer's side of the swap: only its thread touches it.</summary>
    private StringBuilder _writing = new(FlushAt + 4096);
    /// <summary>Lines in <see cref="_pending"/>, and those dropped over <see cref="MaxPending"/> since the writer last took it.</summary>
    private int _pendingLines, _overCap;
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

    /// <summary>Characters held for the output now (pending and being written).</summary>
    internal long Held
    {
        get { lock (_gate) return _pending.Length + (long)_writing.Length; }
    }

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
        var line = t_line ??= new StringBuilder(256);
        line.Clear();
        entry.AppendTo(line, _format).Append('\n');
        bool tell, full;
        lock (_gate)
        {
            // Over the cap the pending text is not empty, so the writer has been told already.
            if (_pending.Length + line.Length > MaxPending)
            {
                _overCap++;
                return;
            }
            _pending.Append(line);
            _pendingLines++;
            tell = !_told;
            _told = true;
            full = !_toldFull && _pending.Length >= FlushAt;
            _toldFull |= full;
        }
        if (full) writer.Tell(AccessLogWriter.Full.Instance);
        else if (tell) writer.Tell(AccessLogWriter.Pending.Instance);
    }

    /// <summary>What one <see cref="WritePending"/> did: lines written, lines not written (a failed write's, those over
    /// <see cref="MaxPending"/>), and the failure.</summary>
    internal readonly record struct Outcome(int Written, int Failed, int OverCap, Exception? Failure);

    /// <summary>
    /// On the writer's thread: writes what is pending, in one call (Console.Out is synchronised, so the node's other log lines
    /// never land inside it). A write that throws drops its batch: kept, it would be written after later lines, twice in
    /// part, and grow without bound while the output keeps failing (review2-s10 #2).
    /// </summary>
    internal Outcome WritePending(ref char[] chunk)
    {
        var writing = _writing;
        int lines, overCap;
        lock (_gate)
        {
            _writing = _pending;
            _pending = writing;
            (lines, _pendingLines) = (_pendingLines, 0);
            (overCap, _overCap) = (_overCap, 0);
            _told = _toldFull = false;
        }
        writing = _writing;
        if (writing.Length == 0 || Output is not { } output) return new(0, 0, overCap, null);
        try
        {
            // From a reused array: a string per write was a few hundred bytes per connection.
            if (chunk.Length < writing.Length) chunk = new char[writing.Length];
            writing.CopyTo(0, chunk, writing.Length);
            output.Write(chunk, 0, writing.Length);
            output.Flush();
            return new(lines, 0, overCap, null);
        }
        catch (Exception e)
        {
            // Whatever the output throws (IOException: disk full, EIO, a closed pipe): restarting the writer would change nothing.
            return new(0, lines, overCap, e);
        }
        finally
        {
            writing.Clear();
            // A spike's memory is given back (Clear keeps the capacity).
            if (writing.Capacity > KeepCapacity) writing.Capacity = FlushAt + 4096;
            if (chunk.Length > KeepCapacity) chunk = [];
        }
    }
}

/// <summary>
/// Writes a node's access log (<see cref="AccessLogSink"/>) to its output (standard output or a file), whatever the log
/// level: lines gathered and written together every 100 ms, or once 32 KiB are pending. One write per connection through
/// the logger cost a twentieth of a relayed connection's CPU. Lines that cannot be written (a write that failed, more than
/// <see cref="AccessLogSink.MaxPending"/> pending) are dropped and counted, and logged once at the start of such a streak and
/// once at its end (the first write that loses nothing), not per line.
/// </summary>
public sealed class AccessLogWriter : UntypedActor, IWithTimers
{
    private static readonly TimeSpan FlushEvery = TimeSpan.FromMilliseconds(100);
    private readonly AccessLogSink _sink;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private char[] _chunk = [];
    /// <summary>When the current streak of lines not written began (null: none), its lines by reason, its last failure.</summary>
    private DateTime? _losingSince;
    private long _failed, _overCap;
    private Exception? _lastFailure;

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
                Write();
                break;
            default: Unhandled(message); break;
        }
    }

    private void Write()
    {
        var outcome = _sink.WritePending(ref _chunk);
        if (outcome.Failed + outcome.OverCap == 0)
        {
            if (outcome.Written > 0 && _losingSince is not null) Report("lines are written again");
            return;
        }
        if (_losingSince is null)
        {
            _losingSince = DateTime.UtcNow;
            if (outcome.Failure is { } e)
                _log.Error("access log: cannot write to its output ({0}: {1}); lines are dropped and counted until a write succeeds", e.GetType().Name, e.Message);
            else
                _log.Warning("access log: its output is not keeping up (over {0} MiB pending); new lines are dropped and counted until it does", AccessLogSink.MaxPending * sizeof(char) / (1024 * 1024));
        }
        _failed += outcome.Failed;
        _overCap += outcome.OverCap;
        _lastFailure = outcome.Failure ?? _lastFailure;
    }

    private void Report(string now)
    {
        var failure = _lastFailure is { } e ? $"; last error {e.GetType().Name}: {e.Message}" : "";
        _log.Warning("access log: {0} line(s) not written over {1:0.#} s ({2} in writes that failed, {3} while the output was not keeping up{4}); {5}",
            _failed + _overCap, (DateTime.UtcNow - _losingSince!.Value).TotalSeconds, _failed, _overCap, failure, now);
        _losingSince = null;
        _failed = _overCap = 0;
        _lastFailure = null;
    }

    protected override void PostStop()
    {
        Write();
        if (_losingSince is not null) Report("the access log stopped");
    }
}

/// <summary><c>--access-log</c> and <c>--access-log-format</c>: the writer lines go to (standard output, or a file opened for appending).</summary>
public sealed record AccessLogOutput(TextWriter Output, AccessLogFormat Format);
