using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using AkkaL4.Actors.DataPlane;

namespace AkkaL4.Tests.Support;

/// <summary>
/// The test process reads DestinationRules' TLS files from its temporary directory (TestCa's, each test's own): a root of
/// the process beside its nodes' (cluster.hocon's default), as if every node's akkal4.data-plane.tls-file-roots named it.
/// Set before any test runs, since TlsOrigination is also called without a node; TlsFileRootsTests name files elsewhere.
/// </summary>
internal static class TestTlsFileRoots
{
    public static readonly string Temp = Path.GetTempPath().TrimEnd('/');

#pragma warning disable CA2255 // the test assembly is the application here: one setting for the whole process
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void AllowTemp() => TlsFileRoots.InForce(typeof(TestTlsFileRoots), ImmutableArray.Create(Temp));
}
