using AkkaL4.Actors.ControlPlane;
using AkkaL4.Messages.Model;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;
using AkkaL4.Messages.Commands;

namespace AkkaL4.Tests.ControlPlane;

/// <summary>
/// The configuration store on its own: kubectl-apply semantics (create, update, unchanged), one
/// revision per accepted change, all or nothing against the merged set, optimistic concurrency on
/// metadata.resourceVersion, deletes and filtered reads. Pure state: no actors, no sockets.
/// </summary>
[Trait("Category", "Unit")]
public sealed class ConfigStoreTests
{
    private static readonly DateTimeOffset T1 = new(2025, 3, 1, 10, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset T2 = new(2025, 3, 2, 11, 30, 0, TimeSpan.Zero);

    private static readonly string Svc = Service("web", "shop", "127.3.0.1");
    private static readonly string Pod = Workload("web-1", "shop", "127.3.0.10", "web");
    private static readonly string Dr = Rule("web", "shop", "web", "v1");
    private static readonly string Vs = Route("web", "shop", "web", "v1");

    private static ConfigAccepted Accepted(object reply) => Assert.IsType<ConfigAccepted>(reply);
    private static ConfigRejected Rejected(object reply) => Assert.IsType<ConfigRejected>(reply);

    private static ConfigStore StoreWith(params string[] documents)
    {
        var store = new ConfigStore();
        Accepted(store.Apply(Decode(documents), T1));
        return store;
    }

    private static Resource Stored(ConfigStore store, string kind, string ns, string name) =>
        store.Resources.Single(r => r.Key == new ResourceKey(kind, ns, name));

    private static ChangeAction ActionOf(ConfigAccepted accepted, string kind, string name, string ns = "shop") =>
        accepted.Changes.Single(c => c.Key == new ResourceKey(kind, ns, name)).Action;

    [Fact]
    public void The_first_apply_creates_every_resource_as_revision_1()
    {
        var store = new ConfigStore();

        var accepted = Accepted(store.Apply(Decode(Svc, Pod, Dr, Vs), T1));

        Assert.Equal(1, accepted.Revision);
        Assert.Equal(1, store.Revision);
        Assert.Equal(4, accepted.Changes.Count);
        Assert.All(accepted.Changes, c => Assert.Equal(ChangeAction.Created, c.Action));
        Assert.Equal(4, store.Resources.Count);
        Assert.All(store.Resources, r =>
        {
            Assert.Equal("1", r.Metadata.ResourceVersion);
            Assert.Equal("2025-03-01T10:00:00Z", r.Metadata.CreationTimestamp);
        });
    }

    [Fact]
    public void Applying_the_same_content_again_is_unchanged_and_keeps_the_revision()
    {
        var store = StoreWith(Svc, Pod, Dr, Vs);

        var accepted = Accepted(store.Apply(Decode(Svc, Pod, Dr, Vs), T2));

        Assert.Equal(1, accepted.Revision);
        Assert.Equal(1, store.Revision);
        Assert.All(accepted.Changes, c => Assert.Equal(ChangeAction.Unchanged, c.Action));
        Assert.All(store.Resources, r => Assert.Equal("1", r.Metadata.ResourceVersion));
        Assert.All(store.Resources, r => Assert.Equal("2025-03-01T10:00:00Z", r.Metadata.CreationTimestamp));
    }

    [Fact]
    public void Applying_what_was_read_back_is_unchanged()
    {
        var store = StoreWith(Svc, Pod, Dr, Vs);
        var read = store.Read(null, null);
        Assert.All(read.Resources, r => Assert.NotNull(r.Metadata.ResourceVersion));

        var accepted = Accepted(store.Apply(read.Resources, T2));

        Assert.Equal(1, accepted.Revision);
        Assert.All(accepted.Changes, c => Assert.Equal(ChangeAction.Unchanged, c.Action));
    }

    [Fact]
    public void An_update_makes_a_new_revision_and_only_the_changed_resource_takes_it()
    {
        var store = StoreWith(Svc, Pod, Dr, Vs);

        var accepted = Accepted(store.Apply(Decode(Pod, Route("web", "shop", "web")), T2));

        Assert.Equal(2, accepted.Revision);
        Assert.Equal(2, store.Revision);
        Assert.Equal(ChangeAction.Unchanged, ActionOf(accepted, "WorkloadEntry", "web-1"));
        Assert.Equal(ChangeAction.Updated, ActionOf(accepted, "VirtualService", "web"));
        Assert.Equal("2", Stored(store, "VirtualService", "shop", "web").Metadata.ResourceVersion);
        Assert.Null(((VirtualService)Stored(store, "VirtualService", "shop", "web")).Spec.Tcp[0].Route[0].Destination!.Subset);
        Assert.Equal("1", Stored(store, "WorkloadEntry", "shop", "web-1").Metadata.ResourceVersion);
        Assert.Equal("1", Stored(store, "Service", "shop", "web").Metadata.ResourceVersion);
    }

    [Fact]
    public void The_creation_timestamp_is_kept_on_update()
    {
        var store = StoreWith(Svc, Pod);

        Accepted(store.Apply(Decode(Workload("web-1", "shop", "127.3.0.11", "web")), T2));

        var pod = Stored(store, "WorkloadEntry", "shop", "web-1");
        Assert.Equal("127.3.0.11", ((WorkloadEntry)pod).Spec.Address);
        Assert.Equal("2", pod.Metadata.ResourceVersion);
        Assert.Equal("2025-03-01T10:00:00Z", pod.Metadata.CreationTimestamp);
    }

    [Fact]
    public void A_creation_timestamp_in_the_write_does_not_replace_the_stored_one()
    {
        var store = StoreWith(Svc, Pod);
        var update = (WorkloadEntry)Decode(Workload("web-1", "shop", "127.3.0.12", "web"))[0];
        update = update with { Metadata = update.Metadata with { CreationTimestamp = "2030-01-01T00:00:00Z" } };

        Accepted(store.Apply([update], T2));

        Assert.Equal("2025-03-01T10:00:00Z", Stored(store, "WorkloadEntry", "shop", "web-1").Metadata.CreationTimestamp);
    }

    [Fact]
    public void The_creation_timestamp_is_utc_whatever_the_offset_of_now()
    {
        var store = new ConfigStore();

        Accepted(store.Apply(Decode(Pod), new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.FromHours(2))));

        Assert.Equal("2025-03-01T10:00:00Z", Stored(store, "WorkloadEntry", "shop", "web-1").Metadata.CreationTimestamp);
    }

    [Fact]
    public void Applying_more_resources_keeps_the_ones_already_stored()
    {
        var store = StoreWith(Svc, Pod);

        var accepted = Accepted(store.Apply(Decode(Dr, Vs), T2));

        Assert.Equal(2, accepted.Revision);
        Assert.Equal(2, accepted.Changes.Count);
        Assert.All(accepted.Changes, c => Assert.Equal(ChangeAction.Created, c.Action));
        Assert.Equal(4, store.Resources.Count);
        Assert.Equal("1", Stored(store, "Service", "shop", "web").Metadata.ResourceVersion);
        Assert.Equal("2", Stored(store, "DestinationRule", "shop", "web").Metadata.ResourceVersion);
    }

    [Fact]
    public void An_invalid_destination_rule_rejects_the_whole_batch_and_the_revision_stays()
    {
        var store = StoreWith(Svc, Pod, Dr);
        var before = store.Read(null, null);

        // A new VirtualService that clashes with nothing, an update of a stored workload, and an invalid DestinationRule.
        var reply = store.Apply(Decode(
            Route("web-canary", "shop", "web", "v1"),
            Workload("web-1", "shop", "127.3.0.13", "web"),
            Rule("web", "shop", "web", "v1", "V_2")), T2);

        var rejected = Rejected(reply);
        Assert.False(rejected.Conflict);
        Assert.False(rejected.NotFound);
        var error = Assert.Single(rejected.Errors);
        Assert.Equal("DestinationRule/shop/web", error.Resource);
        Assert.Equal("spec.subsets[1].name", error.Field);
        Assert.Contains("V_2", error.Message);
        Assert.Equal(Severity.Error, error.Severity);
        Assert.Equal(1, store.Revision);
        Assert.Equal(before, store.Read(null, null), new ContentComparer());
        Assert.DoesNotContain(store.Resources, r => r.Metadata.Name == "web-canary");
        Assert.Equal("127.3.0.10", ((WorkloadEntry)Stored(store, "WorkloadEntry", "shop", "web-1")).Spec.Address);
    }

    [Fact]
    public void The_same_batch_without_the_invalid_resource_is_accepted()
    {
        var store = StoreWith(Svc, Pod, Dr);

        var accepted = Accepted(store.Apply(Decode(
            Route("web-canary", "shop", "web", "v1"),
            Workload("web-1", "shop", "127.3.0.13", "web")), T2));

        Assert.Equal(2, accepted.Revision);
        Assert.Equal(ChangeAction.Created, ActionOf(accepted, "VirtualService", "web-canary"));
        Assert.Equal(ChangeAction.Updated, ActionOf(accepted, "WorkloadEntry", "web-1"));
    }

    [Fact]
    public void Every_error_of_the_batch_is_reported()
    {
        var store = new ConfigStore();

        var rejected = Rejected(store.Apply(Decode(
            Rule("a", "shop", "web", "V_1"),
            Rule("b", "shop", "web", "ok", "ok"),
            Service("web", "shop", "not-an-ip")), T1));

        Assert.Contains(rejected.Errors, e => e.Resource == "DestinationRule/shop/a" && e.Field == "spec.subsets[0].name");
        Assert.Contains(rejected.Errors, e => e.Resource == "DestinationRule/shop/b" && e.Field == "spec.subsets[1].name" && e.Message.Contains("duplicate"));
        Assert.Contains(rejected.Errors, e => e.Resource == "Service/shop/web" && e.Field == "spec.clusterIP");
        Assert.Equal(0, store.Revision);
        Assert.Empty(store.Resources);
    }

    [Fact]
    public void A_resource_twice_in_one_batch_is_rejected()
    {
        var store = new ConfigStore();

        var rejected = Rejected(store.Apply(Decode(Pod, Workload("web-1", "shop", "127.3.0.14", "web")), T1));

        var error = Assert.Single(rejected.Errors);
        Assert.Equal("WorkloadEntry/shop/web-1", error.Resource);
        Assert.Equal("metadata.name", error.Field);
        Assert.Empty(store.Resources);
    }

    [Fact]
    public void A_stale_resource_version_is_a_conflict_and_nothing_changes()
    {
        var store = StoreWith(Svc, Pod);
        Accepted(store.Apply(Decode(Workload("web-1", "shop", "127.3.0.15", "web")), T2)); // web-1 is now at "2"
        var stale = (WorkloadEntry)Decode(Workload("web-1", "shop", "127.3.0.16", "web"))[0];
        stale = stale with { Metadata = stale.Metadata with { ResourceVersion = "1" } };

        var rejected = Rejected(store.Apply([.. Decode(Dr), stale], T2));

        Assert.True(rejected.Conflict);
        var error = Assert.Single(rejected.Errors);
        Assert.Equal("WorkloadEntry/shop/web-1", error.Resource);
        Assert.Equal("metadata.resourceVersion", error.Field);
        Assert.Equal(2, store.Revision);
        Assert.Equal("127.3.0.15", ((WorkloadEntry)Stored(store, "WorkloadEntry", "shop", "web-1")).Spec.Address);
        Assert.DoesNotContain(store.Resources, r => r is DestinationRule);
    }

    [Fact]
    public void The_current_resource_version_is_accepted()
    {
        var store = StoreWith(Svc, Pod);
        Accepted(store.Apply(Decode(Workload("web-1", "shop", "127.3.0.15", "web")), T2));
        var current = (WorkloadEntry)Decode(Workload("web-1", "shop", "127.3.0.16", "web"))[0];
        current = current with { Metadata = current.Metadata with { ResourceVersion = "2" } };

        var accepted = Accepted(store.Apply([current], T2));

        Assert.Equal(3, accepted.Revision);
        Assert.Equal(ChangeAction.Updated, ActionOf(accepted, "WorkloadEntry", "web-1"));
        Assert.Equal("3", Stored(store, "WorkloadEntry", "shop", "web-1").Metadata.ResourceVersion);
    }

    [Fact]
    public void Delete_removes_the_resource_as_a_new_revision()
    {
        var store = StoreWith(Svc, Pod, Dr, Vs);

        var accepted = Accepted(store.Delete(new ResourceKey("VirtualService", "shop", "web")));

        Assert.Equal(2, accepted.Revision);
        Assert.Equal(2, store.Revision);
        Assert.Equal([new ResourceChange(new ResourceKey("VirtualService", "shop", "web"), ChangeAction.Deleted)], accepted.Changes);
        Assert.Equal(3, store.Resources.Count);
        Assert.DoesNotContain(store.Resources, r => r is VirtualService);
    }

    [Fact]
    public void Deleting_an_absent_resource_is_not_found_and_the_revision_stays()
    {
        var store = StoreWith(Svc, Pod);

        var rejected = Rejected(store.Delete(new ResourceKey("VirtualService", "shop", "nothing")));

        Assert.True(rejected.NotFound);
        Assert.False(rejected.Conflict);
        Assert.NotEmpty(rejected.Errors);
        Assert.Equal(1, store.Revision);
        Assert.Equal(2, store.Resources.Count);
        Assert.True(Rejected(store.Delete(new ResourceKey("WorkloadEntry", "other", "web-1"))).NotFound);
    }

    [Fact]
    public void Deleting_several_resources_is_one_revision_all_or_nothing()
    {
        var store = StoreWith(Svc, Pod, Dr, Vs);
        var route = new ResourceKey("VirtualService", "shop", "web");
        var rule = new ResourceKey("DestinationRule", "shop", "web");

        // One absent: nothing is deleted, each absent one named.
        var missing = Rejected(store.Delete([route, rule, new ResourceKey("Service", "shop", "nothing")]));
        Assert.True(missing.NotFound);
        Assert.StartsWith("Service/shop/nothing", Assert.Single(missing.Errors).Resource);
        // Named twice, as an apply's batch: refused.
        Assert.False(Rejected(store.Delete([route, route])).NotFound);
        Assert.Equal(1, store.Revision);
        Assert.Equal(4, store.Resources.Count);

        var accepted = Accepted(store.Delete([route, rule]));

        Assert.Equal(2, accepted.Revision);
        Assert.Equal(2, store.Revision);
        Assert.Equal([new ResourceChange(route, ChangeAction.Deleted), new ResourceChange(rule, ChangeAction.Deleted)], accepted.Changes);
        Assert.Equal(["Service/shop/web", "WorkloadEntry/shop/web-1"], store.Resources.Select(r => r.Key.ToString()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void An_acceptance_marks_the_warnings_its_write_brought()
    {
        var store = StoreWith(Svc, Pod, Dr, Vs, Route("ghost", "shop", "nowhere"));
        static bool? Flag(ConfigAccepted accepted, string resource, string field) =>
            accepted.IsNew(accepted.Warnings.ToList().FindIndex(w => w.Resource == resource && w.Field == field));
        const string subset = "spec.tcp[0].route[0].destination.subset";

        // The rule drops the subset the route uses: a warning on the route, new; the ghost's is old.
        var dropped = Accepted(store.Apply(Decode(Rule("web", "shop", "web", "v2")), T2));
        Assert.True(Flag(dropped, "VirtualService/shop/web", subset));
        Assert.False(Flag(dropped, "VirtualService/shop/ghost", "spec.hosts[0]"));
        // Once stored, it is old.
        var again = Accepted(store.Apply(Decode(Rule("web", "shop", "web", "v3")), T2));
        Assert.False(Flag(again, "VirtualService/shop/web", subset));
        Assert.All(Enumerable.Range(0, again.Warnings.Count), i => Assert.False(again.IsNew(i)));

        // A delete marks what it brings too: the route's rule gone, the subset is declared by nothing.
        var deleted = Accepted(store.Delete([new ResourceKey("DestinationRule", "shop", "web")]));
        Assert.Equal(deleted.Warnings.Count, deleted.New!.Count);
        Assert.False(Flag(deleted, "VirtualService/shop/ghost", "spec.hosts[0]"));
    }

    [Fact]
    public void Reads_filter_by_kind_and_namespace_in_a_stable_order()
    {
        var store = StoreWith(Svc, Pod, Dr, Vs,
            Service("api", "ops", "127.3.0.2"), Workload("api-1", "ops", "127.3.0.20", "api"), Workload("api-0", "ops", "127.3.0.21", "api"));

        var all = store.Read(null, null);
        var pods = store.Read("WorkloadEntry", null);
        var podsByLowerCaseKind = store.Read("workloadentry", null);
        var ops = store.Read(null, "ops");
        var opsPods = store.Read("WorkloadEntry", "ops");

        Assert.Equal(1, all.Revision);
        Assert.Equal(7, all.Resources.Count);
        Assert.Equal(["DestinationRule", "Service", "Service", "VirtualService", "WorkloadEntry", "WorkloadEntry", "WorkloadEntry"],
            all.Resources.Select(r => r.Kind));
        Assert.Equal(["ops/api-0", "ops/api-1", "shop/web-1"], pods.Resources.Select(r => $"{r.Metadata.Namespace}/{r.Metadata.Name}"));
        Assert.Equal(pods.Resources, podsByLowerCaseKind.Resources);
        Assert.Equal(["Service/ops/api", "WorkloadEntry/ops/api-0", "WorkloadEntry/ops/api-1"], ops.Resources.Select(r => r.Key.ToString()));
        Assert.Equal(["api-0", "api-1"], opsPods.Resources.Select(r => r.Metadata.Name));
        Assert.Empty(store.Read("Gateway", null).Resources);
        Assert.Empty(store.Read(null, "nowhere").Resources);
        Assert.Equal(1, store.Read("Gateway", "nowhere").Revision);
    }

    [Fact]
    public void A_store_built_from_saved_content_continues_its_revisions()
    {
        var saved = StoreWith(Svc, Pod).Read(null, null);
        var store = new ConfigStore(41, saved.Resources);

        var unchanged = Accepted(store.Apply(Decode(Svc), T2));
        var created = Accepted(store.Apply(Decode(Vs), T2));

        Assert.Equal(41, unchanged.Revision);
        Assert.Equal(42, created.Revision);
        Assert.Equal("1", Stored(store, "Service", "shop", "web").Metadata.ResourceVersion);
        Assert.Equal("42", Stored(store, "VirtualService", "shop", "web").Metadata.ResourceVersion);
    }

    [Fact]
    public void An_accepted_write_carries_the_analyzer_warnings_of_the_whole_set()
    {
        var store = StoreWith(Svc, Pod);

        var ghost = Accepted(store.Apply(Decode(Route("ghost", "shop", "nowhere")), T2));
        var later = Accepted(store.Apply(Decode(Workload("web-2", "shop", "127.3.0.17", "web")), T2));
        var fixedUp = Accepted(store.Apply(Decode(Service("nowhere", "shop", "127.3.0.3")), T2));

        Assert.Contains(ghost.Warnings, w => w.Resource == "VirtualService/shop/ghost" && w.Field == "spec.hosts[0]" && w.Severity == Severity.Warning);
        Assert.Equal(ghost.Warnings, later.Warnings);
        Assert.Empty(fixedUp.Warnings);
    }

    [Fact]
    public void An_empty_batch_changes_nothing()
    {
        var store = StoreWith(Svc);

        var accepted = Accepted(store.Apply([], T2));

        Assert.Equal(1, accepted.Revision);
        Assert.Empty(accepted.Changes);
        Assert.Equal(1, store.Revision);
    }

    /// <summary>Compares two reads by revision and resources (records compare by content).</summary>
    private sealed class ContentComparer : IEqualityComparer<ConfigContent>
    {
        public bool Equals(ConfigContent? x, ConfigContent? y) =>
            x is not null && y is not null && x.Revision == y.Revision && x.Resources.SequenceEqual(y.Resources);

        public int GetHashCode(ConfigContent obj) => obj.Revision.GetHashCode();
    }
}
