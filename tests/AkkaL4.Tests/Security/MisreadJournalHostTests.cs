using System.Net;
using System.Net.Sockets;
using Akka.Configuration;
using AkkaL4.Actors;
using AkkaL4.Tests.Support;
using Npgsql;

namespace AkkaL4.Tests.Security;

/// <summary>
/// sec19, the PostgreSQL journal's connection string: Npgsql reads <c>Host=127.183.1.010</c> as 127.183.1.8 (.NET's parser,
/// like inet_aton: a leading zero is octal) and would send the journal's password there. A node refuses such a Host at
/// start, naming the setting, the address it would dial and what to write; before, it started and dialled 127.183.1.8.
/// </summary>
[Trait("Category", TestCategories.EndToEnd)]
public sealed class MisreadJournalHostTests
{
    private static readonly AddressBlock Block = AddressBlocks.Of(183);

    private static string Refusal(string connectionString)
    {
        // On the old code the node started (stopped again here, the assertion failing).
        var refused = Assert.Throws<ConfigurationException>(() => RouterNode.Start(new RouterNodeOptions
        {
            Name = "misread-journal",
            PostgresJournal = connectionString,
            Overrides = $"akka.loglevel = WARNING\nakka.stdout-loglevel = OFF\nakka.remote.dot-netty.tcp {{ hostname = \"{Block.Host(1, 1)}\", port = 0 }}",
        }).DisposeAsync().AsTask().Wait());
        return refused.Message;
    }

    [Fact]
    public async Task Npgsql_dials_the_address_its_parser_reads()
    {
        // What the refusal is for: Npgsql connects to 127.183.1.8 for Host=127.183.1.010.
        using var listener = new TcpListener(IPAddress.Parse(Block.Host(1, 8)), 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var accepted = listener.AcceptSocketAsync();
        await using var connection = new NpgsqlConnection($"Host=127.183.1.010;Port={port};Username=u;Password=p;Timeout=5;Pooling=false");
        var open = connection.OpenAsync();
        using var dialled = await accepted.WaitAsync(TimeSpan.FromSeconds(10));
        dialled.Close();
        await Assert.ThrowsAnyAsync<Exception>(() => open);
    }

    [Fact]
    public void A_journal_host_read_as_another_address_is_refused_at_start()
    {
        var message = Refusal("Host=127.183.1.010;Port=5432;Database=akkal4;Username=akkal4;Password=not-for-127.183.1.8");

        Assert.Equal("the journal's connection string (--journal-connection, AKKAL4_JOURNAL_CONNECTION), Host: '127.183.1.010' reads as 127.183.1.8 "
                     + "to the node's parser (a leading zero makes a number octal, as inet_aton reads it): the node would connect to (and send the "
                     + "journal's password to) 127.183.1.8, not the address a person reads; write 127.183.1.8, or 127.183.1.10 if the zeros are padding",
            message);
    }

    [Fact]
    public void Each_host_of_a_multi_host_string_is_judged()
    {
        var message = Refusal($"Host={Block.Host(1, 2)},0x7fb70103:5433;Database=akkal4;Username=akkal4;Password=p");

        Assert.Contains("Host: '0x7fb70103' reads as 127.183.1.3 to the node's parser (0x makes a number hexadecimal", message);
    }
}
