using AkkaL4.Actors.Config.Validation;
using AkkaL4.Tests.Support;
using static AkkaL4.Tests.ControlPlane.ControlPlaneKit;

namespace AkkaL4.Tests.Security;

/// <summary>
/// The two things the config writer refuses in a write but a stored revision keeps (TLS files outside the roots, misread
/// addresses), as one list: what the writer answers when a write brings both, and the notes a node puts a stored revision
/// in force with, each kind's cut after twenty. No sockets (the node and writer tests: StoredMisreadAddressTests,
/// StoredTlsFilesOutsideRootsTests, MisreadAddressWriterTests, TlsFileRootsWriterTests).
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class RefusedInWritesTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(172);
    private static readonly string[] Roots = ["/etc/akkal4/tls"];

    private static readonly string RuleOutside = Manifests.DestinationRule("legacy", "default", """
        host: legacy.default.svc.cluster.local
        trafficPolicy:
          tls: {mode: SIMPLE, caCertificates: /srv/pki/legacy-ca.pem}
        """);

    /// <summary><paramref name="count"/> WorkloadEntries, each at <c>127.172.N.010</c> (octal: the node dials 127.172.N.8).</summary>
    private static string[] MisreadWorkloads(int count) =>
        Enumerable.Range(1, count).Select(i => Workload($"web-{i}", "default", Block.Host(i, 8)[..^1] + "010", "web")).ToArray();

    [Fact]
    public void The_writer_names_the_tls_files_of_a_write_that_brings_both_and_then_its_addresses()
    {
        var both = RefusedInWrites.InWrite(Decode([RuleOutside, .. MisreadWorkloads(1)]), Roots);
        Assert.Equal(["DestinationRule/default/legacy spec.trafficPolicy.tls.caCertificates"], both.Select(d => $"{d.Resource} {d.Field}"));

        var addresses = RefusedInWrites.InWrite(Decode(MisreadWorkloads(1)), Roots);
        Assert.Equal(["WorkloadEntry/default/web-1 spec.address"], addresses.Select(d => $"{d.Resource} {d.Field}"));
    }

    [Fact]
    public void A_stored_revision_is_noted_tls_files_first_each_kind_cut_after_twenty()
    {
        var notes = RefusedInWrites.Notes(Decode([RuleOutside, .. MisreadWorkloads(23)]), Roots);

        Assert.Equal(1 + 20 + 1, notes.Count);
        Assert.StartsWith("DestinationRule/default/legacy spec.trafficPolicy.tls.caCertificates: '/srv/pki/legacy-ca.pem' is outside the TLS file roots", notes[0]);
        Assert.EndsWith("; its connections are refused (NC) until then, the rest of the configuration routes", notes[0]);
        Assert.All(notes.Skip(1).Take(20), note =>
        {
            Assert.StartsWith("WorkloadEntry/default/web-", note);
            Assert.EndsWith(" (stored before the config writer refused such addresses: in force as the node reads it)", note);
        });
        Assert.Equal("and 3 more address(es) not written as they are read", notes[^1]);
        Assert.Empty(RefusedInWrites.Notes(Decode(Workload("web-1", "default", Block.Host(1, 1), "web")), Roots));
    }
}
