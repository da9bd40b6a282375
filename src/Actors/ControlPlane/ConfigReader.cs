using Akka.Actor;
using AkkaL4.Messages.Commands;
using AkkaL4.Messages.Model;
using AkkaL4.Messages.Queries;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>The stored configuration cannot be read right now (a namespace's RouteTable entity is behind or silent).</summary>
public sealed class ConfigNotReadableException(string message) : Exception(message);

/// <summary>
/// The namespaces whose <see cref="RouteTable"/> entity a read of this node found behind or silent after the reader's
/// <see cref="ConfigReader.EntityPatience"/>, each remembered for <paramref name="remember"/>: the reads that follow ask
/// the writer for them at once (and their entity too, whichever answers first), rather than each wait the patience again
/// while the entity stays silent. Shared by a node's readers (<see cref="ConfigClient"/>); on the node, so a writer
/// hand-over does not forget it.
/// </summary>
internal sealed class SilentEntities(TimeSpan remember)
{
    /// <summary>How long a node's reads remember a silent entity.</summary>
    internal static readonly TimeSpan Remember = TimeSpan.FromMinutes(1);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, DateTime> _until = new(StringComparer.Ordinal);

    public void Silent(string ns) => _until[ns] = DateTime.UtcNow + remember;

    public bool Known(string ns)
    {
        if (!_until.TryGetValue(ns, out var until)) return false;
        if (until > DateTime.UtcNow) return true;
        _until.TryRemove(new KeyValuePair<string, DateTime>(ns, until));
        return false;
    }
}

/// <summary>
/// One read of the stored configuration (<see cref="ReadConfig"/>): the writer's <see cref="ConfigIndex"/> says which
/// revision of each namespace makes it up, and each namespace is read from its <see cref="RouteTable"/> entity at that
/// revision (a <see cref="RouteTableRead"/>, as a recovering writer reads). An entity behind its revision is waited for a little (the writer is asked to send it again); one that stays
/// behind or does not answer for <see cref="EntityPatience"/> has its namespace read from the writer (its store holds
/// every namespace at the index's revision, with the same hash check; not one whose entity holds other content under
/// the revision: that is said); only when that fails too is the read failed with a
/// <see cref="ConfigNotReadableException"/> naming the namespaces, rather than answer with a configuration that never was. No answer from the writer: an <see cref="AskTimeoutException"/>.
/// </summary>
internal sealed class ConfigReader : ReceiveActor, IWithTimers
{
    /// <summary>How long the entities may take to hold the revisions the index names.</summary>
    internal static readonly TimeSpan EntityPatience = TimeSpan.FromSeconds(4);

    private static readonly TimeSpan AskAgain = TimeSpan.FromMilliseconds(300);

    /// <summary>The index moved on while the entities were read (newer writes): read it again, this many times at most.</summary>
    private const int Rounds = 3;

    private sealed class Expired
    {
        public static readonly Expired Instance = new();
    }

    private sealed class Poll
    {
        public static readonly Poll Instance = new();
    }

    private readonly IActorRef _writer;
    private readonly IActorRef _routeTables;
    private readonly ReadConfig _query;
    private readonly IActorRef _replyTo;
    private readonly SilentEntities _silent;
    private readonly TimeSpan _patience;
    private int _round;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="silent">The node's memory of silent entities (a reader's own, forgotten with it, when not given).</param>
    /// <param name="patience">How long the entities, then the writer, may take (<see cref="EntityPatience"/> when not given).</param>
    public static Props Props(IActorRef writer, IActorRef routeTables, ReadConfig query, IActorRef replyTo, SilentEntities? silent = null, TimeSpan? patience = null) =>
        Akka.Actor.Props.Create(() => new ConfigReader(writer, routeTables, query, replyTo, silent ?? new SilentEntities(TimeSpan.Zero), patience ?? EntityPatience));

    public ConfigReader(IActorRef writer, IActorRef routeTables, ReadConfig query, IActorRef replyTo, SilentEntities silent, TimeSpan patience)
    {
        _writer = writer;
        _routeTables = routeTables;
        _query = query;
        _replyTo = replyTo;
        _silent = silent;
        _patience = patience;
    }

    protected override void PreStart() => AskIndex();

    private void AskIndex()
    {
        _round++;
        _writer.Tell(ReadIndex.Instance);
        Timers.StartSingleTimer(nameof(Expired), Expired.Instance, ConfigClient.Timeout);
        Become(() =>
        {
            Receive<ConfigIndex>(Read);
            // Recovering, refusing writes, or without a majority: the writer says why at once.
            Receive<ConfigUnavailable>(u => Finish(new Status.Failure(new ConfigNotReadableException(u.Reason))));
            Receive<Expired>(_ => Finish(new Status.Failure(new AskTimeoutException($"the config writer did not answer within {ConfigClient.Timeout.TotalSeconds:0}s"))));
            ReceiveAny(_ => { });
        });
    }

    private void Read(ConfigIndex index)
    {
        var read = new RouteTableRead(index.Namespaces.Where(n => _query.Namespace is null || n.Namespace == _query.Namespace), "the configuration names");
        if (read.Done)
        {
            Answer(index.Revision, read);
            return;
        }
        var askedWriter = false;
        Timers.StartSingleTimer(nameof(Expired), Expired.Instance, _patience);
        Timers.StartPeriodicTimer(nameof(Poll), Poll.Instance, AskAgain);
        Become(() =>
        {
            Receive<NamespaceContent>(c =>
            {
                switch (read.Take(c))
                {
                    case RouteTableRead.Outcome.Newer:
                        // Written since the index was read: read the index again (a few rounds), else say so.
                        Timers.CancelAll();
                        if (_round < Rounds) AskIndex();
                        else Finish(new Status.Failure(new ConfigNotReadableException(
                            $"the configuration changed {Rounds} times while it was being read (namespace {c.Namespace} is at revision {c.Revision}); try again")));
                        break;
                    case RouteTableRead.Outcome.FirstBehind:
                        // Its outbox entry may be on its way; the writer sends it again at once on the first sign it is missing.
                        _writer.Tell(new RedeliverNamespace(c.Namespace, c.Revision));
                        break;
                    case RouteTableRead.Outcome.Taken when read.Done:
                        Answer(index.Revision, read);
                        break;
                }
            });
            Receive<Poll>(_ => read.Ask(_routeTables, Self));
            Receive<Expired>(_ =>
            {
                // Still behind or silent (an entity that does not confirm: another version, a shard that cannot start): the
                // writer holds every namespace at the revision its index names and answers as its entity would. Remembered,
                // so this node's next reads of them do not wait for the entity first.
                foreach (var ns in read.Unread()) _silent.Silent(ns);
                if (!askedWriter && read.Unread().Any())
                {
                    // Those asked of the writer at once (remembered silent) are asked again too, once: that ask finds the
                    // writer's proxy, and a writer handing over to another node drops what it had not answered.
                    read.AskWriter(_writer, Self, again: true);
                    askedWriter = true;
                    Timers.StartSingleTimer(nameof(Expired), Expired.Instance, _patience);
                    return;
                }
                Finish(new Status.Failure(new ConfigNotReadableException(
                    $"revision {index.Revision} is not yet readable after {(askedWriter ? 2 : 1) * _patience.TotalSeconds:0}s{(askedWriter ? " (nor from the writer)" : "")}: {read.Waiting()}")));
            });
            ReceiveAny(_ => { });
        });
        read.Ask(_routeTables, Self);
        // Those whose entity this node found silent lately: from the writer at once too (whichever answers first is taken).
        read.AskWriter(_writer, Self, _silent.Known);
    }

    private void Answer(long revision, RouteTableRead read) =>
        Finish(new ConfigStore(revision, read.Resources).Read(_query.Kind, _query.Namespace));

    private void Finish(object reply)
    {
        _replyTo.Tell(reply);
        Context.Stop(Self);
    }
}
