using System.Reflection;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.Routing;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// A connection actor is held for as long as its connection is open, idle or not, so its fields are paid once per open
/// connection (bench/README.md, session 23). The node's shared parts are reached through the one <see cref="NodeDataPlane"/>
/// reference, not copied into a field each, and the listener's address (an <see cref="IpPort"/>, 48 bytes) is not kept.
/// </summary>
[Trait("Category", "Unit")]
[Trait(TestCategories.TransportTrait, TestCategories.TransportNamed)]
public class ConnectionActorFootprintTests
{
    private static readonly FieldInfo[] Fields =
        typeof(ConnectionActor).GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.DeclaredOnly);

    [Fact]
    public void The_nodes_parts_are_one_reference_not_a_field_each()
    {
        var parts = typeof(NodeDataPlane).GetProperties().Select(p => p.PropertyType).ToHashSet();
        Assert.Single(Fields, f => f.FieldType == typeof(NodeDataPlane));
        Assert.Empty(Fields.Where(f => parts.Contains(f.FieldType)).Select(f => $"{f.FieldType.Name} {f.Name}"));
    }

    [Fact]
    public void The_listeners_address_is_not_kept()
    {
        Assert.Empty(Fields.Where(f => f.FieldType == typeof(IpPort)).Select(f => f.Name));
    }
}
