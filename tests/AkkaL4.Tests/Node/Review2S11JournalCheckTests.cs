using Akka.Actor;
using AkkaL4.Actors;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Node;

/// <summary>
/// review2-s11 #5: a password holding an unquoted ';' makes its tail a "keyword"; Npgsql's message names it, and the check
/// puts that message in its problem (logged, /v1/status, and the unauthenticated /readyz).
/// Measured on main (0e413b6): problem = "the connection string does not parse: Couldn't set er2 (Parameter 'er2')".
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class Review2S11JournalCheckTests : IDisposable
{
    private readonly TaskCompletionSource _stop = new();
    private readonly ActorSystem _system = ActorSystem.Create("review2-s11-journal", "akka.loglevel = ERROR\nakka.stdout-loglevel = OFF");

    public void Dispose()
    {
        _stop.TrySetResult();
        _system.Terminate().Wait(TimeSpan.FromSeconds(10));
    }

    [Theory]
    [InlineData("Host=127.191.0.1;Port=9;Username=akkal4;Password=hunt;er2=x;Database=j")]
    [InlineData("Host=127.191.0.1;Port=9;Username=akkal4;Password=hunt;er2;Database=j")]
    public void A_connection_string_that_does_not_parse_is_said_without_any_of_its_text(string connection)
    {
        var check = JournalCheck.Start(connection, _system.Log, _stop.Task)!;

        Assert.NotNull(check.Problem);
        Assert.DoesNotContain("er2", check.Problem + check.Where, StringComparison.OrdinalIgnoreCase);
    }
}
