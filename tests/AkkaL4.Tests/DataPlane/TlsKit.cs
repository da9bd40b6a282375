using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace AkkaL4.Tests.DataPlane;

/// <summary>A throwaway certificate authority made in the test, and the PEM files a DestinationRule names.</summary>
internal sealed class TestCa : IDisposable
{
    public X509Certificate2 Certificate { get; }
    public string Directory { get; } = Path.Combine(Path.GetTempPath(), $"akkal4-tls-{Guid.NewGuid():N}");
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public TestCa(string name)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var request = new CertificateRequest($"CN={name}", _key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        Certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(CaFile, Certificate.ExportCertificatePem());
    }

    public string CaFile => Path.Combine(Directory, "ca.pem");

    /// <summary>A leaf certificate with its key, for server and client use, naming <paramref name="dnsNames"/>.</summary>
    public X509Certificate2 Issue(string commonName, params string[] dnsNames)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in dnsNames) san.AddDnsName(name);
        if (dnsNames.Length > 0) request.CertificateExtensions.Add(san.Build());
        // Valid as long as the CA (a leaf may not outlive its issuer), however long after the CA it is issued.
        using var signed = request.Create(Certificate, DateTimeOffset.UtcNow.AddMinutes(-5), Certificate.NotAfter.ToUniversalTime(), RandomNumberGenerator.GetBytes(12));
        using var withKey = signed.CopyWithPrivateKey(key);
        // Through PKCS#12: SslStream wants a key it can hand to OpenSSL, not an ephemeral one.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>Writes a certificate and its key as PEM files; returns their paths.</summary>
    public (string Certificate, string Key) WritePem(X509Certificate2 certificate, string name)
    {
        var cert = Path.Combine(Directory, $"{name}.pem");
        var key = Path.Combine(Directory, $"{name}-key.pem");
        File.WriteAllText(cert, certificate.ExportCertificatePem());
        File.WriteAllText(key, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        return (cert, key);
    }

    /// <summary>Checks a server certificate against this CA only.</summary>
    public bool Trusts(X509Certificate? certificate)
    {
        if (certificate is null) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.Add(Certificate);
        return chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    }

    public void Dispose()
    {
        _key.Dispose();
        try { System.IO.Directory.Delete(Directory, true); } catch (IOException) { }
    }
}

/// <summary>
/// A TLS upstream: for each connection, a handshake with its certificate (asking for a client
/// certificate when <paramref name="clientCa"/> is given), then one line answered with
/// <c>NAME sni=SNI client=SUBJECT: LINE</c>.
/// </summary>
/// <summary>A test upstream's accept loop: each connection served by its own task; disposal stops accepting and waits for them.</summary>
internal sealed class AcceptLoop : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly ConcurrentBag<Task> _serving = [];

    public AcceptLoop(IPEndPoint address, Func<TcpClient, Task> serve)
    {
        _listener = new TcpListener(address);
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Start();
        _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
                catch (Exception) { return; }
                _serving.Add(serve(client));
            }
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        await Task.WhenAll(_serving);
    }
}

internal sealed class TlsLineServer : IAsyncDisposable
{
    private readonly AcceptLoop _loop;

    /// <param name="burst">Lines (<c>NAME i</c>, one TLS record each) sent as soon as the handshake is done, before the line is read.</param>
    public TlsLineServer(IPEndPoint address, string name, X509Certificate2 certificate, TestCa? clientCa = null, int burst = 0) =>
        _loop = new AcceptLoop(address, client => Serve(client, name, certificate, clientCa, burst));

    public int Handshakes;
    /// <summary>Connections accepted, handshake or not.</summary>
    public int Accepted;

    private async Task Serve(TcpClient client, string name, X509Certificate2 certificate, TestCa? clientCa, int burst)
    {
        Interlocked.Increment(ref Accepted);
        using var _ = client;
        try
        {
            await using var ssl = new SslStream(client.GetStream());
            using var timeout = new CancellationTokenSource(Patience);
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = certificate,
                ClientCertificateRequired = clientCa is not null,
                RemoteCertificateValidationCallback = (_, cert, _, _) => clientCa is null || clientCa.Trusts(cert),
            }, timeout.Token);
            Interlocked.Increment(ref Handshakes);
            for (var i = 0; i < burst; i++) await ssl.WriteAsync(Encoding.UTF8.GetBytes($"{name} {i}\n"), timeout.Token);
            var line = await new StreamReader(ssl).ReadLineAsync(timeout.Token);
            var reply = $"{name} sni={(string.IsNullOrEmpty(ssl.TargetHostName) ? "-" : ssl.TargetHostName)} client={ssl.RemoteCertificate?.Subject ?? "-"}: {line}\n";
            await ssl.WriteAsync(Encoding.UTF8.GetBytes(reply), timeout.Token);
            await ssl.ShutdownAsync();
        }
        catch (Exception e) when (e is IOException or AuthenticationException or OperationCanceledException or SocketException)
        {
            // A refused or broken handshake: what some tests make happen.
        }
    }

    public ValueTask DisposeAsync() => _loop.DisposeAsync();
}

/// <summary>
/// An upstream behind PROXY protocol, with its own small parser written apart from the router's
/// (HAProxy's spec, v1 text and v2 binary): answers one line with <c>NAME vN src=SOURCE dst=DEST: LINE</c>.
/// </summary>
internal sealed class ProxyLineServer : IAsyncDisposable
{
    private readonly AcceptLoop _loop;

    /// <param name="certificate">With one, TLS follows the header (the header itself in the clear, as the spec has it).</param>
    public ProxyLineServer(IPEndPoint address, string name, X509Certificate2? certificate = null) =>
        _loop = new AcceptLoop(address, client => Serve(client, name, certificate));

    private static async Task<byte[]> ReadExactly(Stream stream, int n, CancellationToken cancel)
    {
        var buffer = new byte[n];
        await stream.ReadExactlyAsync(buffer, cancel);
        return buffer;
    }

    private static async Task Serve(TcpClient client, string name, X509Certificate2? certificate)
    {
        using var _ = client;
        try
        {
            using var timeout = new CancellationTokenSource(Patience);
            var stream = client.GetStream();
            var first = await ReadExactly(stream, 16, timeout.Token);
            string header;
            if (first.AsSpan(0, 12).SequenceEqual(new byte[] { 13, 10, 13, 10, 0, 13, 10, 0x51, 0x55, 0x49, 0x54, 10 }))
            {
                var length = first[14] * 256 + first[15];
                var body = await ReadExactly(stream, length, timeout.Token);
                header = (first[13] >> 4) switch
                {
                    1 => $"v2 src={new IPAddress(body[..4])}:{body[8] * 256 + body[9]} dst={new IPAddress(body[4..8])}:{body[10] * 256 + body[11]}",
                    2 => $"v2 src=[{new IPAddress(body[..16])}]:{body[32] * 256 + body[33]} dst=[{new IPAddress(body[16..32])}]:{body[34] * 256 + body[35]}",
                    _ => "v2 unspec",
                };
            }
            else
            {
                // v1: text up to CRLF, at most 107 bytes in all.
                var line = new List<byte>(first);
                while (!(line.Count >= 2 && line[^2] == '\r' && line[^1] == '\n') && line.Count < 107) line.Add((await ReadExactly(stream, 1, timeout.Token))[0]);
                var fields = Encoding.ASCII.GetString(line.ToArray()).TrimEnd('\r', '\n').Split(' ');
                header = fields is ["PROXY", "TCP4" or "TCP6", var s, var d, var sp, var dp] ? $"v1 src={s}:{sp} dst={d}:{dp}" : "not a PROXY header: " + string.Join(' ', fields);
            }
            if (certificate is not null)
            {
                var ssl = new SslStream(stream);
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, timeout.Token);
                var secret = await new StreamReader(ssl).ReadLineAsync(timeout.Token);
                await ssl.WriteAsync(Encoding.UTF8.GetBytes($"{name} {header} tls: {secret}\n"), timeout.Token);
                await ssl.ShutdownAsync();
                return;
            }
            var text = await new StreamReader(stream).ReadLineAsync(timeout.Token);
            await stream.WriteAsync(Encoding.UTF8.GetBytes($"{name} {header}: {text}\n"), timeout.Token);
            client.Client.Shutdown(SocketShutdown.Send);
            var closed = await stream.ReadAsync(new byte[1], timeout.Token); // waits for the client to close
            Assert.True(closed >= 0);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or EndOfStreamException or AuthenticationException)
        {
        }
    }

    public ValueTask DisposeAsync() => _loop.DisposeAsync();
}

/// <summary>Real TLS clients: a socket bound to its source address, SslStream with the SNI given (none for "").</summary>
internal static class TlsClient
{
    /// <summary>Connects, handshakes (the server's certificate must chain to <paramref name="ca"/>), sends a line, returns the reply and the connection.</summary>
    public static async Task<(string Reply, ConnectionId Id)> AskAsync(string source, IPEndPoint destination, string sni, string line, TestCa ca)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var opened = DateTimeOffset.UtcNow;
        socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
        using var timeout = new CancellationTokenSource(Patience);
        await socket.ConnectAsync(destination, timeout.Token);
        var id = new ConnectionId((IPEndPoint)socket.LocalEndPoint!, opened);
        await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false));
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = sni,
            RemoteCertificateValidationCallback = (_, cert, _, _) => ca.Trusts(cert),
        }, timeout.Token);
        await ssl.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"), timeout.Token);
        var reply = await new StreamReader(ssl).ReadLineAsync(timeout.Token);
        return (reply ?? "", id);
    }

    /// <summary>The bytes a real .NET TLS client sends first (its ClientHello records) for <paramref name="sni"/>.</summary>
    public static async Task<byte[]> ClientHelloAsync(string sni)
    {
        var capture = new CaptureStream();
        await using var ssl = new SslStream(capture);
        try
        {
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = sni, RemoteCertificateValidationCallback = (_, _, _, _) => true });
        }
        catch (Exception e) when (e is IOException or AuthenticationException)
        {
            // The capture answers nothing: the handshake ends after the ClientHello was written.
        }
        return capture.Written.ToArray();
    }

    /// <summary>Keeps what is written; reads end at once.</summary>
    private sealed class CaptureStream : Stream
    {
        public readonly MemoryStream Written = new();
        public override void Write(byte[] buffer, int offset, int count) => Written.Write(buffer, offset, count);
        public override int Read(byte[] buffer, int offset, int count) => 0;
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => Written.Length;
        public override long Position { get => 0; set { } }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => 0;
        public override void SetLength(long value) { }
    }
}
