namespace AkkaL4.Tests.Support;

/// <summary>
/// What running a test class costs, as the xunit trait <c>Category</c> put once on the class, e.g.
/// <c>[Trait("Category", "Unit")]</c> (two when it needs two things, say Chaos and Postgres). A developer runs
/// only the fast tests with <c>dotnet test --filter Category=Unit</c>; CI runs everything.
/// <see cref="TestCategoryTests"/> fails for a class without one.
/// </summary>
internal static class TestCategories
{
    /// <summary>In process and quick: no socket, no process, no waiting on timers (TestProbe-level actor tests too).</summary>
    public const string Unit = "Unit";

    /// <summary>Real sockets on loopback: router nodes in process, or one <c>akkal4</c> process at a time (CLI, admin API).</summary>
    public const string EndToEnd = "EndToEnd";

    /// <summary>Several real <c>akkal4 run</c> processes killed, paused and cut off from each other; minutes each.</summary>
    public const string Chaos = "Chaos";

    /// <summary>A real PostgreSQL: a throwaway one from the machine's binaries, or <c>AKKAL4_TEST_POSTGRES</c>.</summary>
    public const string Postgres = "Postgres";

    /// <summary>A Docker engine and docker-compose (<c>AKKAL4_COMPOSE_TEST=1</c>, else skipped).</summary>
    public const string Docker = "Docker";

    /// <summary>Headless <c>chromium</c> driven through <c>chromium-driver</c>.</summary>
    public const string Browser = "Browser";

    /// <summary>100,000 generated manifests through the whole config pipeline: in process, but CPU-bound for a minute or more.</summary>
    public const string Fuzz = "Fuzz";

    /// <summary>
    /// A second trait, <c>[Trait(TransportTrait, TransportNamed)]</c>, on a class whose tests name the transport of each case
    /// (or bind no socket), so <c>AKKAL4_TRANSPORT</c> changes nothing in them: CI's second pass of the data-plane tests, on
    /// the stock transport, leaves them out (<c>Transport!=Named</c>) instead of running them again as they were.
    /// <see cref="TransportTraitTests"/> fails for such a class that reaches a node, a process or the setting.
    /// </summary>
    public const string TransportTrait = "Transport";

    public const string TransportNamed = "Named";

    public static readonly IReadOnlySet<string> All = new HashSet<string> { Unit, EndToEnd, Chaos, Postgres, Docker, Browser, Fuzz };
}
