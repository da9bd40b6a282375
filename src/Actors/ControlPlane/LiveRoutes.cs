using AkkaL4.Actors.Routing;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>
/// The node's current route snapshot. Connection actors read it without asking anyone or taking a
/// lock; a new configuration replaces it in one atomic swap.
/// </summary>
public sealed class LiveRoutes
{
    private RouteSnapshot _current = RouteSnapshot.Empty;

    public RouteSnapshot Current => Volatile.Read(ref _current);

    public void Swap(RouteSnapshot snapshot) => Volatile.Write(ref _current, snapshot);
}
