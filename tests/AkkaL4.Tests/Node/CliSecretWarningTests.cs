using AkkaL4.Node.Cli;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Node;

/// <summary>Secrets the CLI exposes: a password on the command line, a token sent in clear (sec13 #7).</summary>
[Trait("Category", "EndToEnd")]
public sealed class CliSecretWarningTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("akkal4-sec13-low-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Cert_create_warns_of_a_password_given_on_the_command_line_and_not_of_one_in_its_variable()
    {
        var given = await Akkal4Process.RunAsync(["cert", "create", "--out", Path.Combine(_directory, "a.p12"), "--password", "secret-on-cmdline"]);
        var variable = await Akkal4Process.RunAsync(["cert", "create", "--out", Path.Combine(_directory, "b.p12")],
            environment: new Dictionary<string, string> { [CertCommand.PasswordVariable] = "secret-in-env" });

        Assert.Equal(0, given.ExitCode);
        Assert.Contains("--password on the command line is readable by every user", given.Stderr);
        Assert.Contains("$" + CertCommand.PasswordVariable, given.Stderr);
        Assert.DoesNotContain("secret-on-cmdline", given.Stderr + given.Stdout);
        Assert.Equal(0, variable.ExitCode);
        Assert.DoesNotContain("readable by every user", variable.Stderr);
    }

    [Theory]
    [InlineData("http://10.1.2.3:15000", true)]
    [InlineData("http://admin.example:15000", true)]
    [InlineData("http://127.0.0.1:15000", false)]
    [InlineData("http://localhost:15000", false)]
    [InlineData("http://[::1]:15000", false)]
    [InlineData("https://10.1.2.3:15000", false)]
    public void The_token_in_clear_to_a_host_off_loopback_is_warned_of(string server, bool warned)
    {
        var warning = ServerCommands.ClearTokenWarning(new Uri(server));
        Assert.Equal(warned, warning is not null);
        if (warning is not null) Assert.Contains(new Uri(server).Host, warning);
    }
}
