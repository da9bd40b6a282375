using Akka.Configuration;
using AkkaL4.Actors;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Transport;

namespace AkkaL4.Tests.Support;

/// <summary>A test of behaviour only our own transport has; skipped when the suite runs on the stock one.</summary>
public sealed class OwnTransportFact : FactAttribute
{
    public OwnTransportFact()
    {
        var transport = DataPlaneSettings.From(ConfigurationFactory.ParseString(RouterNode.BuiltInHocon())).Transport;
        if (transport != TcpTransports.Sockets)
            Skip = $"needs the {TcpTransports.Sockets} transport; this run uses {transport}";
    }
}
