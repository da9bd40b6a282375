using Akka.Configuration;
using AkkaL4.Actors;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Actors.DataPlane.Transport;

namespace AkkaL4.Tests.Support;

/// <summary>
/// A test of behaviour only our own transport has; skipped when the suite runs on the stock one. <paramref name="why"/>
/// says what the stock transport lacks, where that is a known defect rather than a feature it does not have.
/// </summary>
public sealed class OwnTransportFact : FactAttribute
{
    public OwnTransportFact(string? why = null)
    {
        var transport = DataPlaneSettings.From(ConfigurationFactory.ParseString(RouterNode.BuiltInHocon())).Transport;
        if (transport != TcpTransports.Sockets)
            Skip = $"needs the {TcpTransports.Sockets} transport; this run uses {transport}{(why is null ? "" : ": " + why)}";
    }
}
