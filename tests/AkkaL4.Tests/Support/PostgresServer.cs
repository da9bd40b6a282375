using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace AkkaL4.Tests.Support;

/// <summary>
/// A real PostgreSQL for the tests: the one named by AKKAL4_TEST_POSTGRES (a connection string), or a
/// throwaway server started here from the machine's PostgreSQL binaries (initdb, pg_ctl; run as the
/// postgres user when the tests run as root) on a free loopback port, removed afterwards.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private string? _dataDirectory;
    private string? _bin;
    private int _port;

    public string ConnectionString { get; private set; } = "";

    /// <summary>True: always a throwaway server started here (one a test may stop and start), whatever AKKAL4_TEST_POSTGRES says.</summary>
    public bool Throwaway { get; init; }

    public async Task InitializeAsync()
    {
        if (!Throwaway && Environment.GetEnvironmentVariable("AKKAL4_TEST_POSTGRES") is { Length: > 0 } given)
        {
            ConnectionString = given;
            return;
        }
        _bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")))
            : null;
        if (_bin is null)
            throw new InvalidOperationException("PostgreSQL binaries not found under /usr/lib/postgresql (apt-get install postgresql), and AKKAL4_TEST_POSTGRES is not set");

        _dataDirectory = Path.Combine(Path.GetTempPath(), "akkal4-pg-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dataDirectory);
        await Run("chown", $"postgres {_dataDirectory}", asPostgres: false, allowFailure: true);
        _port = FreePort();
        await Run(Path.Combine(_bin, "initdb"), $"-D {_dataDirectory} --auth=trust -U postgres", asPostgres: true);
        await StartAsync();
        await Run(Path.Combine(_bin, "createdb"), $"-h 127.0.0.1 -p {_port} -U postgres akkal4", asPostgres: true);
        ConnectionString = $"Host=127.0.0.1;Port={_port};Username=postgres;Database=akkal4";
    }

    /// <summary>Starts the throwaway server (again): the same data directory and port; returns once it accepts connections.</summary>
    public Task StartAsync() =>
        Run(Path.Combine(Bin, "pg_ctl"), $"-D {_dataDirectory} -w -o \"-p {_port} -k {_dataDirectory} -c listen_addresses=127.0.0.1\" -l {_dataDirectory}/log start", asPostgres: true);

    /// <summary>Stops the throwaway server with a fast shutdown (open connections are cut, nothing is lost); returns once it is down.</summary>
    public Task StopAsync() => Run(Path.Combine(Bin, "pg_ctl"), $"-D {_dataDirectory} -w -m fast stop", asPostgres: true);

    private string Bin => _bin ?? throw new InvalidOperationException("only a throwaway server started here can be stopped and started (not one given by AKKAL4_TEST_POSTGRES)");

    public async Task DisposeAsync()
    {
        if (_dataDirectory is null || _bin is null) return;
        await Run(Path.Combine(_bin, "pg_ctl"), $"-D {_dataDirectory} -m immediate stop", asPostgres: true, allowFailure: true);
        Directory.Delete(_dataDirectory, recursive: true);
    }

    private static int FreePort()
    {
        // Below 32768, outside the kernel's ephemeral range.
        for (var port = 20000 + Random.Shared.Next(10000); ; port = 20000 + Random.Shared.Next(10000))
        {
            try
            {
                var probe = new TcpListener(IPAddress.Loopback, port);
                probe.Start();
                probe.Stop();
                return port;
            }
            catch (SocketException)
            {
                // taken; try another
            }
        }
    }

    private static async Task Run(string file, string arguments, bool asPostgres, bool allowFailure = false)
    {
        var asRoot = Environment.UserName == "root";
        var start = asPostgres && asRoot
            ? new ProcessStartInfo("su", ["postgres", "-c", $"{file} {arguments}"])
            : new ProcessStartInfo(file, arguments);
        start.RedirectStandardOutput = start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        if (process.ExitCode != 0 && !allowFailure)
            throw new InvalidOperationException($"{file} {arguments} failed ({process.ExitCode}): {await error}{await output}");
    }
}
