using System.Reflection;
using Akka.Cluster;
using Akka.Util;

namespace AkkaL4.Actors.ControlPlane;

/// <summary>
/// This build's version as the cluster sees it (<c>akka.cluster.app-version</c>, from the assembly's version, so it cannot
/// drift from the package's) and what a member's version says it reads.
/// </summary>
public static class Release
{
    /// <summary>Major.minor.patch of this build (Directory.Build.props' &lt;Version&gt;).</summary>
    public static string Version { get; } = Of(typeof(Release).Assembly);

    /// <summary>
    /// The version that replicates the configuration by namespace (manifest <c>cg</c>); members of an earlier one read only
    /// the single list (<c>cc</c>).
    /// </summary>
    public static readonly AppVersion ByNamespace = AppVersion.Create("0.5.0");

    /// <summary>
    /// The line that gives a node's cluster this build's version, after cluster.hocon (<see cref="RouterNode.BuiltInHocon"/>)
    /// and under the operator's layers. Akka's own default is the entry assembly's version: a test host's, or any program's
    /// that embeds a node.
    /// </summary>
    public static string AppVersionHocon => $"akka.cluster.app-version = \"{Version}\"";

    /// <summary>The Up members whose version does not read the configuration by namespace (older than <see cref="ByNamespace"/>).</summary>
    public static IReadOnlyList<Member> ReadingOneList(ClusterEvent.CurrentClusterState state) =>
        state.Members.Where(m => m.Status == MemberStatus.Up && m.AppVersion.CompareTo(ByNamespace) < 0).ToList();

    private static string Of(Assembly assembly) =>
        assembly.GetName().Version is { } v ? $"{v.Major}.{v.Minor}.{Math.Max(v.Build, 0)}" : "0.0.0";
}
