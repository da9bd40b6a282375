using System.Globalization;
using System.Text;
using Akka.Event;
using Microsoft.Win32.SafeHandles;
using AkkaL4.Actors.Config;
using AkkaL4.Messages.Model;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>
/// The last configuration a node put in force, kept on local disk so the node can route at start even
/// when nothing else is reachable. Written atomically (temporary file, then rename).
/// <para>The file stays YAML (a revision header, then manifests), while inside the cluster a configuration travels and is
/// journaled as typed resources: it is what an operator opens on a node that will not start, and edits by hand at worst
/// (so <see cref="Load"/> validates it). The node encodes it after the revision is in force, off the way to routing by
/// it. Journals of earlier versions hold whole configurations in this form (<see cref="Decode"/> reads them).</para>
/// </summary>
public sealed class LastKnownGood(string directory)
{
    private const string Header = "# akkal4 last-known-good revision ";

    /// <summary>
    /// For text the cluster wrote itself (earlier versions' journals, the configuration this node saved): the admin API's limits bound what a user sends, not the stored sum of many (10,000 Services and
    /// a few more are over 10,000 documents) nor a re-encoding (a few bytes longer).
    /// </summary>
    internal static readonly DecodeLimits Stored = new() { MaxBytes = int.MaxValue, MaxDocuments = int.MaxValue };

    public string Path { get; } = System.IO.Path.Combine(directory, "last-known-good.yaml");

    /// <summary>Held while the file is written: one write at a time, whether <see cref="Save"/>'s or <see cref="SaveLater"/>'s.</summary>
    private readonly object _fileGate = new();
    /// <summary>
    /// Where each namespace's manifests are in the file this instance last wrote, by the namespace's list (a list is never
    /// changed once made): a later save copies an unchanged namespace's bytes from that file instead of encoding it again,
    /// and no copy of the text stays in memory. Empty when the file's length or time is no longer what was written.
    /// </summary>
    private Section[] _sections = [];
    private (long Length, DateTime Time) _stamp;

    private readonly record struct Section(IReadOnlyList<Resource> List, long Offset, int Length);

    /// <summary>
    /// Writes <paramref name="content"/> now, on the caller's thread. Returns a warning when the file was written but its
    /// directory could not be flushed (see <see cref="PrivateFiles.Replace"/>), else null.
    /// </summary>
    public string? Save(ConfigContent content)
    {
        lock (_fileGate) return Write(content);
    }

    private string? Write(ConfigContent content)
    {
        PrivateFiles.CreateDirectory(directory);
        var temp = Path + ".tmp";
        var sections = new List<Section>();
        var old = new FileInfo(Path);
        // By reference (a list is never changed once made): one look-up per namespace, not a scan.
        var reuse = new Dictionary<IReadOnlyList<Resource>, Section>(ReferenceEqualityComparer.Instance);
        if (old.Exists && (old.Length, old.LastWriteTimeUtc) == _stamp)
            foreach (var section in _sections) reuse.TryAdd(section.List, section);
        _sections = [];
        using (var from = reuse.Count > 0 ? OpenOrNull(Path) : null)
            PrivateFiles.WriteAllBytes(temp, Parts(content, (list, offset) =>
            {
                byte[]? bytes = null;
                if (from is not null && reuse.TryGetValue(list, out var kept))
                {
                    bytes = new byte[kept.Length];
                    if (RandomAccess.Read(from, bytes, kept.Offset) != bytes.Length) bytes = null;
                }
                bytes ??= Encoding.UTF8.GetBytes(ManifestEncoder.ToYaml(list));
                sections.Add(new Section(list, offset, bytes.Length));
                return bytes;
            }));
        var unflushed = PrivateFiles.Replace(temp, Path);
        var written = new FileInfo(Path);
        _stamp = (written.Length, written.LastWriteTimeUtc);
        _sections = [.. sections];
        return unflushed;
    }

    private static SafeFileHandle? OpenOrNull(string path)
    {
        try
        {
            return File.OpenHandle(path);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>A whole configuration as text: its revision in a header line, then its manifests.</summary>
    public static string Format(ConfigContent content) =>
        string.Concat(Parts(content, (list, _) => Encoding.UTF8.GetBytes(ManifestEncoder.ToYaml(list))).Select(p => Encoding.UTF8.GetString(p)));

    /// <summary>
    /// <see cref="Format"/>'s text as UTF-8, in parts made as they are written: the header, then each namespace's manifests
    /// (<see cref="NamespacedResources"/>, as replicated), or all of them in one part; <paramref name="manifests"/> makes a
    /// list's part, given the offset in the file where it goes.
    /// </summary>
    private static IEnumerable<byte[]> Parts(ConfigContent content, Func<IReadOnlyList<Resource>, long, byte[]> manifests)
    {
        var header = Encoding.UTF8.GetBytes(Header + content.Revision.ToString(CultureInfo.InvariantCulture) + "\n");
        yield return header;
        long offset = header.Length;
        foreach (var list in content.Resources is NamespacedResources grouped ? grouped.Namespaces.Select(n => n.Resources) : [content.Resources])
        {
            var part = manifests(list, offset);
            offset += part.Length;
            yield return part;
        }
    }

    private readonly object _laterGate = new();
    /// <summary>The newest content handed to <see cref="SaveLater"/> and not yet taken by its writer.</summary>
    private (ConfigContent Content, ILoggingAdapter Log)? _next;
    private bool _writing;
    /// <summary>The revision <see cref="SaveLater"/>'s writer last took: it never writes an older one after it.</summary>
    private long _laterWritten = long.MinValue;
    private TaskCompletionSource _idle = Done();
    private CopyState _state = new(null, null, null);
    /// <summary>The wait before a failed write of the newest content is tried again; doubles up to <see cref="MaxRetryDelay"/>.</summary>
    private TimeSpan _retryDelay;
    /// <summary>Held so the pending retry's timer is not collected before it fires.</summary>
    private Timer? _retry;

    internal static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);

    /// <summary>The first wait before a failed write is tried again (tests shorten it).</summary>
    internal TimeSpan FirstRetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Called by <see cref="SaveLater"/>'s writer before each write (tests hold it there).</summary>
    internal Action<long>? BeforeWrite { get; set; }

    /// <summary>Starts <see cref="SaveLater"/>'s writer thread (tests make it fail).</summary>
    internal Action<Thread> StartWriter { get; set; } = thread => thread.Start();

    /// <summary>
    /// What the copy on disk holds: <paramref name="Revision"/> as this node last wrote or loaded it (null: none yet), and
    /// the newer revision it could not write yet with why (<paramref name="Failed"/>, <paramref name="Error"/>; null once written).
    /// </summary>
    public sealed record CopyState(long? Revision, long? Failed, string? Error);

    /// <summary>The copy's state, for the node's status.</summary>
    public CopyState State
    {
        get { lock (_laterGate) return _state; }
    }

    /// <summary>
    /// Writes <paramref name="content"/> on a thread of its own, so the caller (the route cache, which applies the next
    /// revision meanwhile) does not wait for the encoding and the disk. Writes go one at a time in the order of revisions:
    /// a content handed over while another waits replaces it if newer, and one older than what was written is dropped, so
    /// the file never goes back to an older revision. The revision stays in force whatever the write does; a failed write
    /// is logged, shown in <see cref="State"/>, and tried again while it is the newest (after 1 s, doubling up to 30 s).
    /// The thread is a background one: a write hung on a stalled disk must not keep a stopping process alive (the node's
    /// orderly stop waits for <see cref="Idle"/>, bounded).
    /// </summary>
    public void SaveLater(ConfigContent content, ILoggingAdapter log)
    {
        lock (_laterGate)
        {
            if (_stopped) return;
            if (_next is { } waiting && waiting.Content.Revision >= content.Revision) return;
            _next = (content, log);
            if (_writing) return;
            _writing = true;
            if (_idle.Task.IsCompleted) _idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        try
        {
            StartWriter(new Thread(WriteLater) { IsBackground = true, Name = "last-known-good" });
        }
        catch (Exception e)
        {
            // No thread (memory pressure, say): nothing writes, so nothing may look busy; try again later.
            lock (_laterGate)
            {
                // The newest handed over meanwhile (it found the writer busy) is the one not written.
                var lost = _next ?? (content, log);
                _next = null;
                _writing = false;
                _idle.TrySetResult();
                Failed(lost.Content, lost.Log, e);
            }
        }
    }

    /// <summary>Completes once <see cref="SaveLater"/> has nothing left to write.</summary>
    internal Task Idle
    {
        get { lock (_laterGate) return _idle.Task; }
    }

    private void WriteLater()
    {
        while (true)
        {
            (ConfigContent Content, ILoggingAdapter Log) next;
            lock (_laterGate)
            {
                if (_next is not { } taken)
                {
                    _writing = false;
                    _idle.TrySetResult();
                    return;
                }
                next = taken;
                _next = null;
                if (next.Content.Revision <= _laterWritten) continue;
                _laterWritten = next.Content.Revision;
            }
            try
            {
                BeforeWrite?.Invoke(next.Content.Revision);
                if (Save(next.Content) is { } unflushed)
                    next.Log.Warning("last-known-good copy of revision {0} written: {1}", next.Content.Revision, unflushed);
                lock (_laterGate)
                {
                    _state = new CopyState(next.Content.Revision, null, null);
                    _retryDelay = TimeSpan.Zero;
                }
            }
            catch (Exception e)
            {
                lock (_laterGate) Failed(next.Content, next.Log, e);
            }
        }
    }

    /// <summary>
    /// Under <see cref="_laterGate"/>: records that <paramref name="content"/> was not written and, unless a newer one is
    /// already on its way, hands it over again after the backoff (dropped then if a newer one came meanwhile).
    /// </summary>
    private void Failed(ConfigContent content, ILoggingAdapter log, Exception e)
    {
        var revision = content.Revision;
        if (_laterWritten == revision) _laterWritten = revision - 1;
        _state = _state with { Failed = revision, Error = e.Message };
        if (_next is { } newer && newer.Content.Revision > revision)
        {
            log.Warning("last-known-good copy of revision {0} not written to {1}: {2}", revision, Path, e.Message);
            return;
        }
        if (_stopped) return;
        _retryDelay = _retryDelay == TimeSpan.Zero ? FirstRetryDelay : TimeSpan.FromTicks(Math.Min(_retryDelay.Ticks * 2, MaxRetryDelay.Ticks));
        log.Warning("last-known-good copy of revision {0} not written to {1}: {2}; trying again in {3:0.#} s", revision, Path, e.Message, _retryDelay.TotalSeconds);
        _retry?.Dispose();
        _retry = new Timer(_ =>
        {
            lock (_laterGate)
                if (_laterWritten >= revision) return;
            SaveLater(content, log);
        }, null, _retryDelay, Timeout.InfiniteTimeSpan);
    }

    private bool _stopped;

    /// <summary>
    /// The node is gone: a retry still pending (after a failed write) is dropped and nothing more is written, so that no copy
    /// lands in the data directory after the node stopped (a next node, or an operator, may be using it by then). A write
    /// under way finishes; the node's stop waits for <see cref="Idle"/> first.
    /// </summary>
    public void Stop()
    {
        lock (_laterGate)
        {
            _stopped = true;
            _next = null;
            _retry?.Dispose();
            _retry = null;
        }
    }

    private static TaskCompletionSource Done()
    {
        var done = new TaskCompletionSource();
        done.SetResult();
        return done;
    }

    /// <summary>
    /// Reads <see cref="Format"/>'s text back, decoded but not validated again: for text the config writer wrote (an
    /// earlier version's journal; it validated and compiled it before journaling). Null with a reason when it does not decode; the revision of the
    /// header whenever there is one (else 0).
    /// </summary>
    public static ConfigContent? Decode(string text, string source, out long revision, out string? problem)
    {
        if (!TryHeader(text, source, out revision, out problem)) return null;
        var decoded = ManifestDecoder.Decode(text, source, Stored);
        if (decoded.Ok) return new ConfigContent(revision, decoded.Resources.Select(d => d.Resource).ToList());
        problem = $"{source} does not decode: {decoded.Errors[0]}";
        return null;
    }

    /// <summary>
    /// Reads <see cref="Format"/>'s text from a file anyone could have edited: validated (under <see cref="Stored"/>'s limits: the
    /// configuration in force is the sum of many writes); null with a reason when it does not read cleanly.
    /// </summary>
    public static ConfigContent? Parse(string text, string source, out string? problem)
    {
        if (!TryHeader(text, source, out var revision, out problem)) return null;
        var report = ConfigCheck.Check([(source, text)], Stored);
        if (!report.Ok)
        {
            problem = $"{source} does not validate: {report.Errors[0]}";
            return null;
        }
        return new ConfigContent(revision, report.Resources);
    }

    private static bool TryHeader(string text, string source, out long revision, out string? problem)
    {
        problem = null;
        var firstLine = text.Split('\n', 2)[0];
        if (firstLine.StartsWith(Header, StringComparison.Ordinal) && long.TryParse(firstLine[Header.Length..], out revision)) return true;
        revision = 0;
        problem = $"{source} has no revision header";
        return false;
    }

    /// <summary>The saved configuration, or null when there is none or it no longer reads cleanly.</summary>
    public ConfigContent? Load(out string? problem)
    {
        problem = null;
        var loaded = File.Exists(Path) ? Parse(File.ReadAllText(Path), Path, out problem) : null;
        if (loaded is not null)
            lock (_laterGate) if (_state.Revision is null) _state = _state with { Revision = loaded.Revision };
        return loaded;
    }
}
