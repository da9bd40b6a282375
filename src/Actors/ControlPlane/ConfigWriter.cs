using Akka.Actor;
using Akka.Event;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>
/// Serialises every write to the configuration: applies, deletes and reads go through this one
/// actor, which owns the <see cref="ConfigStore"/> and, after each accepted change, hands the whole
/// configuration to <c>onChange</c> (compile, swap, reconcile listeners, keep a last-known-good copy).
/// </summary>
public sealed class ConfigWriter : ReceiveActor
{
    public static Props Props(ConfigStore store, Action<ConfigContent> onChange) =>
        Akka.Actor.Props.Create(() => new ConfigWriter(store, onChange));

    public ConfigWriter(ConfigStore store, Action<ConfigContent> onChange)
    {
        var log = Context.GetLogger();
        void Changed(object result)
        {
            if (result is ConfigAccepted { Changes: var changes } accepted && changes.Any(c => c.Action != ChangeAction.Unchanged))
            {
                log.Info("config revision {0}: {1}", accepted.Revision,
                    string.Join(", ", changes.Where(c => c.Action != ChangeAction.Unchanged).Select(c => $"{c.Key} {c.Action.ToString().ToLowerInvariant()}")));
                onChange(store.Read(null, null));
            }
            Sender.Tell(result);
        }

        Receive<ApplyConfig>(a => Changed(store.Apply(a.Resources, DateTimeOffset.UtcNow)));
        Receive<DeleteResource>(d => Changed(store.Delete(d.Key)));
        Receive<GetConfig>(g => Sender.Tell(store.Read(g.Kind, g.Namespace)));
    }
}
