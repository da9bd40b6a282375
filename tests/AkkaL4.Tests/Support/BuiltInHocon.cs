using Akka.Configuration;
using AkkaL4.Actors.DataPlane;

namespace AkkaL4.Tests.Support;

/// <summary>
/// Parts of cluster.hocon as the node embeds it, read without <c>RouterNode</c>: classes marked Transport=Named may not reach
/// it (<see cref="TransportTraitTests"/>).
/// </summary>
internal static class BuiltInHocon
{
    /// <summary>The relay hosts' dispatcher (<see cref="Relays.Dispatcher"/>) at its path, as a node has it.</summary>
    public static Akka.Configuration.Config RelayDispatcher()
    {
        using var stream = typeof(Relays).Assembly.GetManifestResourceStream("cluster.hocon")
                           ?? throw new InvalidOperationException("cluster.hocon is not embedded in AkkaL4.Actors");
        var block = ConfigurationFactory.ParseString(new StreamReader(stream).ReadToEnd()).GetConfig(Relays.Dispatcher).Root;
        return ConfigurationFactory.ParseString($"{Relays.Dispatcher} {{\n{block}\n}}");
    }
}
