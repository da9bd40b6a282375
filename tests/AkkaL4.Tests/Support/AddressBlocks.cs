using System.Net;

namespace AkkaL4.Tests.Support;

/// <summary>
/// Every 127.B.x.x block the tests (and bench/) bind, and who owns it. Tests bind fixed loopback addresses with
/// SO_REUSEPORT, so two owners of one address steal each other's connections: a new test class takes addresses
/// only from its owner's block, through <see cref="AddressBlock.Host"/>, and a new owner adds a row here first
/// (<see cref="AddressBlockTests"/> fails for an address in a block that has no row).
/// </summary>
internal static class AddressBlocks
{
    public static readonly IReadOnlyList<AddressBlock> All =
    [
        new(0, "configuration only, nothing bound (routing decisions, decoder, analyser); PostgresServer; the walkthrough end to end (the README's 127.0.x)"),
        new(1, "data-plane end-to-end classes, a third octet each (127.1.N.x)"),
        new(3, "control-plane kit: store, last-known-good, admin API, server CLI, a third octet each (127.3.N.x)"),
        new(4, "cluster config, writer journal, PostgreSQL journal"),
        new(5, "chaos process and journal outage tests"),
        new(10, "write chaos and write contract"),
        new(20, "ChaosCluster: membership and partition chaos"),
        new(30, "remoting security, admin hardening, security CLI"),
        new(40, "compose scale"),
        new(50, "unix sockets"),
        new(60, "PROXY protocol, TLS routing, preamble parser"),
        new(70, "healing (outlier detection, active checks)"),
        new(80, "status page, metrics exposition, OpenAPI"),
        new(90, "bench/ (allocations, throughput)"),
        new(100, "route-table chaos, writer recovery (and shared in places by the cluster and writer tests)"),
        new(120, "connect attempts, descriptor admission (session helper conn)"),
        new(121, "a relay's gentle stop with a send pending, admin request targets (session fixer fix11c)"),
        new(122, "#15 connection setup, tail latency, idle memory per connection (session helper perf13)"),
        new(123, "#15 per-connection cost and baseline memory (session helper perf14)"),
        new(130, "connection timers"),
        new(140, "descriptor exhaustion, metrics lifecycle, TLS origination (session helper fd)"),
        new(150, "reliability defects: PROXY trust, source caps, admin connections, preamble races (session helper rel)"),
        new(160, "security lows: admin login, admin answers, duplicate TLS extensions, status timeouts (session helpers sec, sec9)"),
        new(170, "test kits (session helper kit)"),
        new(171, "test kits and CI time (session helper ci18)"),
        new(172, "test kits, review findings, duplication (session helper kit19)"),
        new(173, "test flakes: waits on conditions, address collisions, stock-transport bursts (session helper flake20)"),
        new(174, "session 20 reviewer and fixers"),
        new(175, "security: the compose cluster secured by default (session helper sec21)"),
        new(176, "test waits on conditions, flaky candidates (session helper flake21)"),
        new(177, "session 21 reviewer and fixers"),
        new(178, "data-plane reliability: the stock transport after a reset, test worlds' clean-up (session helper rel23)"),
        new(179, "unanswered picks: asks coalesced per cluster, backoff with jitter (session helper pick23)"),
        new(180, "configuration propagation: send to every node, writes at real sizes (session helper prop)"),
        new(181, "a silent route table's namespace read from the writer (session fixer fix12b)"),
        new(182, "the writer's warnings per write, batched deletes, silent entities (session helper write13)"),
        new(183, "security: connection strings and URLs as written, decode work bounds (session helper sec19)"),
        new(184, "session 19 reviewer and fixers"),
        new(185, "security hardening (session helper sec20)"),
        new(186, "security hardening (session helper sec17)"),
        new(187, "session 17 reviewer and fixers"),
        new(188, "security hardening: addresses as written, private locks (session helper sec18)"),
        new(189, "session 18 reviewer and fixers"),
        new(190, "reviewers (and tests that came from their reviews)"),
        new(191, "a second reviewer's block: the journal check's connection strings (review2-s11)"),
        new(192, "security audit (session helper sec13)"),
        new(193, "session 13 reviewer and fixers"),
        new(194, "security audit and hardening (session helper sec14)"),
        new(195, "session 14 reviewer and fixers"),
        new(196, "security hardening (session helper sec15)"),
        new(197, "session 15 reviewer and fixers"),
        new(198, "security hardening (session helper sec16)"),
        new(199, "session 16 reviewer and fixers"),
        new(200, "reliability left-overs: preamble end, TLS cache, healing waits (session helper rel)"),
        new(201, "cluster reliability: orderly leave, failure detector, last-known-good on disk (session helper rel13)"),
        new(202, "data-plane reliability: listener overflow, accept pump, out of descriptors, stock-transport stop (session helper dp13)"),
        new(203, "cluster reliability: large messages and the failure detector (session helper rel14)"),
        new(204, "data-plane reliability: stock-transport stop, descriptor budget (session helper dp14)"),
        new(205, "TLS origination under many connections (session helper tls15)"),
        new(206, "cluster and in-process multi-node reliability (session helper rel15)"),
        new(207, "the stock transport's TLS half-close (session helper tls16)"),
        new(208, "cluster and data-plane reliability left-overs (session helper rel16)"),
        new(209, "the stock transport's stop and end of stream (session helper stock17)"),
        new(210, "cluster reliability under big writes: dispatchers, heartbeats (session helper rel17)"),
        new(211, "cluster reliability: heartbeats during big writes, the writer's own thread (session helper rel18)"),
        new(212, "data-plane overload: accept and connect under more load than a node can take (session helper over18)"),
        new(213, "cluster reliability: heartbeats during big writes, the pool and the collector (session helper rel19)"),
        new(214, "data-plane overload: a bound on pending connections (session helper over19)"),
        new(215, "cluster reliability: heartbeats during big writes, the pool floor and the collector budget (session helper rel20)"),
        new(216, "data-plane overload: pending connections that dial (session helper pend20)"),
        new(217, "data-plane reliability: resets through TLS origination, registration, unanswered picks (session helper rel21)"),
        new(218, "cluster reliability: big configurations beside heartbeats and connections (session helper big21)"),
        new(219, "route convergence under data-plane load, the control plane's priority (session helper big23)"),
        new(220, "#15 memory: socket args ownership, idle connections, the journal loaded on demand (session helpers mem, mem10)"),
        new(221, "#15 baseline memory of a fresh node (session helper mem13)"),
        new(223, "#15 baseline memory and per-connection cost (session helper perf15)"),
        new(224, "#15 per-connection cost (session helper perf16)"),
        new(225, "#15 baseline memory and per-connection cost (session helper perf17)"),
        new(226, "#15 per-connection hops and baseline memory (session helper perf18)"),
        new(227, "#15 per-connection cost (session helper perf19)"),
        new(228, "#15 per-connection syscalls and baseline memory (session helper perf20)"),
        new(229, "#15 baseline memory, idle connections and the runtime settings' cost (session helper perf21)"),
        new(230, "day-one operations and TLS/PROXY traffic as a user (session helper user)"),
        new(231, "analyser findings, status page, day-one use (session helper ops13)"),
        new(232, "analyser findings, CLI deletes, day-one use (session helper ops14)"),
        new(233, "analyser findings, CLI, day-one use (session helper ops15)"),
        new(234, "gateway compile cost, analyser findings (session helper cfg16)"),
        new(235, "analyser findings at real sizes (session helper cfg17)"),
        new(236, "analyser and compiler at real sizes (session helper cfg18)"),
        new(237, "security: the compose cluster's outsiders, the remoting port (session helper sec23)"),
        new(238, "#15 per-connection heap and CPU (session helper perf23)"),
        new(239, "session 23 reviewer and fixers"),
        new(240, "security: remoting connections that do not authenticate (session 24)"),
        new(241, "the journal plugins a node's settings name, refused at start (session 27)"),
        new(242, "relay hosts woken inline by a socket completion (session 28)"),
    ];

    /// <summary>The block 127.<paramref name="second"/>.x.x; fails for one without a row.</summary>
    public static AddressBlock Of(int second) =>
        All.SingleOrDefault(b => b.Second == second) ?? throw new ArgumentException($"127.{second}.x.x has no row in {nameof(AddressBlocks)}");
}

/// <summary>One 127.B.x.x block: addresses inside it and nowhere else.</summary>
internal sealed record AddressBlock(int Second, string Owner)
{
    /// <summary>127.B.<paramref name="third"/>.<paramref name="fourth"/>.</summary>
    public string Host(int third, int fourth)
    {
        if (third is < 0 or > 255 || fourth is < 1 or > 254)
            throw new ArgumentOutOfRangeException(nameof(third), $"127.{Second}.{third}.{fourth} is not a host address");
        return $"127.{Second}.{third}.{fourth}";
    }

    public IPEndPoint At(int third, int fourth, int port) => new(IPAddress.Parse(Host(third, fourth)), port);
}
