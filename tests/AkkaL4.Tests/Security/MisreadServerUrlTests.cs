using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using AkkaL4.Tests.ControlPlane;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Security;

/// <summary>
/// sec19, the client verbs' <c>--server</c> (and <c>$AKKAL4_SERVER</c>): System.Uri reads <c>http://127.183.2.010:PORT</c> as
/// 127.183.2.8, and the request with the admin token went there. Such a URL is a usage error now (exit 2), naming what it
/// reads as and what to write; before, the token arrived at 127.183.2.8.
/// </summary>
[Collection(ProcessesCollection.Name)]
[Trait("Category", TestCategories.EndToEnd)]
public sealed class MisreadServerUrlTests : IDisposable
{
    private static readonly AddressBlock Block = AddressBlocks.Of(183);
    private const string Token = "sec19-token-not-for-127.183.2.8";

    /// <summary>Where Uri sends what is meant for 127.183.2.10 (or .010): it keeps the head of every request it gets.</summary>
    private readonly TcpListener _misread = new(IPAddress.Parse(Block.Host(2, 8)), 0);
    private readonly ConcurrentQueue<string> _arrived = new();
    private readonly CancellationTokenSource _stop = new();

    public MisreadServerUrlTests()
    {
        _misread.Start();
        _ = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                using var client = await _misread.AcceptTcpClientAsync(_stop.Token);
                var buffer = new byte[4096];
                var read = await client.GetStream().ReadAsync(buffer, _stop.Token);
                _arrived.Enqueue(Encoding.ASCII.GetString(buffer, 0, read));
            }
        });
    }

    public void Dispose()
    {
        _stop.Cancel();
        _misread.Stop();
    }

    private int Port => ((IPEndPoint)_misread.LocalEndpoint).Port;

    [Fact]
    public async Task Uri_sends_a_request_to_the_address_its_parser_reads()
    {
        // What the refusal is for: HttpClient, given 127.183.2.010, connects to 127.183.2.8.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => http.GetAsync($"http://127.183.2.010:{Port}/v1/status"));
        // (HttpClient tries again on a connection closed before any answer: one or more requests.)
        Assert.All(_arrived, request => Assert.StartsWith("GET /v1/status HTTP/1.1\r\nHost: 127.183.2.8:", request));
        Assert.NotEmpty(_arrived);
    }

    [Fact]
    public async Task A_server_url_read_as_another_address_is_a_usage_error()
    {
        var run = await Akkal4Process.RunAsync(["status", "--server", $"http://127.183.2.010:{Port}", "--token", Token], timeout: TimeSpan.FromSeconds(60));

        Assert.True(run.ExitCode == 2, $"{run}\narrived at 127.183.2.8: {string.Join("\n", _arrived)}");
        Assert.Contains($"akkal4: --server 'http://127.183.2.010:{Port}': '127.183.2.010' reads as 127.183.2.8 to akkal4's parser (a leading zero makes a "
                        + "number octal, as inet_aton reads it): akkal4 would send the request (and the admin token) to 127.183.2.8, not the address a "
                        + "person reads; write 127.183.2.8, or 127.183.2.10 if the zeros are padding", run.Stderr);
        Assert.Empty(_arrived);
    }

    [Fact]
    public async Task So_is_one_from_the_environment_and_explain_s()
    {
        var environment = new Dictionary<string, string> { ["AKKAL4_SERVER"] = $"http://user@0x7fb70208:{Port}/", ["AKKAL4_ADMIN_TOKEN"] = Token };
        var get = await Akkal4Process.RunAsync(["get", "virtualservices"], environment: environment, timeout: TimeSpan.FromSeconds(60));
        var explain = await Akkal4Process.RunAsync(["explain", "--server", $"http://127.183.2.010:{Port}", "-s", Block.Host(2, 1), "-d", $"{Block.Host(2, 2)}:80"],
            environment: environment, timeout: TimeSpan.FromSeconds(60));

        Assert.True(get.ExitCode == 2, $"{get}\narrived at 127.183.2.8: {string.Join("\n", _arrived)}");
        Assert.Contains("'0x7fb70208' reads as 127.183.2.8 to akkal4's parser (0x makes a number hexadecimal", get.Stderr);
        Assert.True(explain.ExitCode == 2, $"{explain}\narrived at 127.183.2.8: {string.Join("\n", _arrived)}");
        Assert.Empty(_arrived);
    }
}
