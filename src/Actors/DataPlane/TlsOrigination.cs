using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using AkkaL4.Actors.DataPlane.Transport;
using AkkaL4.Actors.Routing;

namespace AkkaL4.Actors.DataPlane;

/// <summary>
/// DestinationRule <c>tls</c> SIMPLE and MUTUAL: wraps a connected upstream in a TLS client session.
/// The server's certificate must chain to <c>caCertificates</c> (else the system store) and carry one
/// of <c>subjectAltNames</c> (else, when <c>sni</c> is set, that name); MUTUAL presents the client
/// certificate and key. Certificate files are read before dialling, on a thread of their own, and again when their
/// modification time changes (compared at most every <see cref="RecheckEvery"/>, off the connection path): only regular
/// files (through symlinks) of at most <see cref="MaxFileBytes"/>.
/// </summary>
internal static class TlsOrigination
{
    /// <summary>
    /// Parsed files, by the path(s) they were parsed from. Each entry is read once, on a thread of its own, and then
    /// compared with its files' modification times (replacing either the certificate or the key is seen) at most every
    /// <see cref="RecheckEvery"/>, on a thread of its own too: no connection stats a file, so a hung mount holds one
    /// thread per entry, never one per connection. A read is a task, so a burst of connections waits for one read and
    /// none of them holds a thread while it waits. A changed file is read while connections go on with the copy in hand,
    /// which the new one then replaces. A failed first read is kept until the next check (the files may be mended without
    /// their times changing: their permissions, say); a failed re-read of files read before (a rotation torn in between, the
    /// certificate written before its key; the files deleted) keeps the copy in hand, as Envoy and nginx do, logs why once
    /// (a warning, again if the error changes) and is tried again at every check until it reads. Replaced certificates are left to the GC, not disposed, since a
    /// handshake in flight may still present or check against them (rotations are rare: a few objects wait for
    /// finalisation). Entries for files no node's configuration names any more go at the next configuration change
    /// (<see cref="InForce"/>).
    /// </summary>
    private static readonly ConcurrentDictionary<FilePaths, Entry> Files = new();

    /// <summary>How long a read (or its failure) is used before its files' times are compared again.</summary>
    internal static readonly TimeSpan RecheckEvery = TimeSpan.FromSeconds(2);

    /// <summary>The largest TLS file read: a PEM bundle of a few hundred certificates; anything larger is refused unread.</summary>
    internal const int MaxFileBytes = 1024 * 1024;

    /// <summary>The file(s) one entry is read from: a CA bundle (<see cref="Key"/> null), or a client certificate and its key.</summary>
    private readonly record struct FilePaths(string Path, string? Key);

    /// <summary>The modification times of an entry's files (the key's: default for a CA bundle).</summary>
    private sealed record Times(DateTime Modified, DateTime KeyModified);

    /// <summary>One read of a <see cref="FilePaths"/>, started by the first to ask for it, and when its files were last compared.</summary>
    private sealed class Entry
    {
        private readonly Lazy<Task<object>> _reading;

        public Entry(Func<Entry, Task<object>> start) => _reading = new(() => start(this));

        public Task<object> Reading => _reading.Value;

        /// <summary>The times the read saw (null until its stat returned).</summary>
        public volatile Times? Seen;

        /// <summary>When the files were last found as read (a <see cref="System.Diagnostics.Stopwatch"/> timestamp).</summary>
        public long Checked = System.Diagnostics.Stopwatch.GetTimestamp();

        /// <summary>1 while a comparison runs.</summary>
        public int Checking;

        /// <summary>The last failed re-read's error logged for this (good) entry, so a torn rotation is logged once, not every check.</summary>
        public string? Failing;

        public bool Due => System.Diagnostics.Stopwatch.GetElapsedTime(Volatile.Read(ref Checked)) >= RecheckEvery;
    }

    /// <summary>
    /// Unreadable files already logged, by the rule(s) and the files, with the error logged: once per rule and files, not
    /// once per connection (rules sharing a CA file each log their own break); logged again when the error changes or
    /// after the files were read successfully in between.
    /// </summary>
    private static readonly ConcurrentDictionary<(string Rules, FilePaths Files), string> Reported = new();

    /// <summary>
    /// What each node's configuration in force names, by node: a process may run several (tests do), and one node's new
    /// configuration must not drop what another still uses. Written under its own lock, at configuration changes only.
    /// </summary>
    private static readonly Dictionary<object, HashSet<(string Rules, FilePaths Files)>> Named = new(ReferenceEqualityComparer.Instance);

    /// <summary>
    /// <paramref name="node"/> has put in force a configuration whose clusters originate TLS with <paramref name="named"/>
    /// (null: the node stopped). Cache entries and logged errors for files no node names any more are dropped, so a
    /// long-lived node whose configuration moves through certificate paths keeps only those in use. A connection decided
    /// on the previous configuration may read dropped files again once; the next change drops them too.
    /// </summary>
    public static void InForce(object node, IEnumerable<UpstreamTls>? named)
    {
        lock (Named)
        {
            if (named is null) Named.Remove(node);
            else Named[node] = named.SelectMany(NamedFiles).ToHashSet();
            var files = Named.Values.SelectMany(n => n).Select(n => n.Files).ToHashSet();
            foreach (var key in Files.Keys)
                if (!files.Contains(key)) Files.TryRemove(key, out _);
            foreach (var reported in Reported.Keys)
                if (!Named.Values.Any(n => n.Contains(reported))) Reported.TryRemove(reported, out _);
        }
    }

    private static IEnumerable<(string Rules, FilePaths Files)> NamedFiles(UpstreamTls tls)
    {
        if (tls.Mode == "MUTUAL") yield return (tls.Rules, new FilePaths(tls.ClientCertificate!, tls.PrivateKey));
        if (tls.CaCertificates is { } ca && !tls.InsecureSkipVerify) yield return (tls.Rules, new FilePaths(ca, null));
    }

    /// <summary>
    /// The files <paramref name="tls"/> names (MUTUAL's client certificate and key, <c>caCertificates</c>), read (or taken
    /// from the cache) before any upstream connection is opened. Throws <see cref="UpstreamTlsConfigurationException"/>
    /// when one cannot be read, whatever the reason, or is still being read after <paramref name="wait"/> (another
    /// connection's read, say, of a file on a hung mount): this node cannot use the rule, and no endpoint is to blame.
    /// Completes synchronously when the files are cached; a read in progress is awaited, no thread held.
    /// </summary>
    public static async ValueTask<TlsFiles> LoadAsync(UpstreamTls tls, ILoggingAdapter log, TimeSpan wait)
    {
        X509Certificate2? client = null;
        if (tls.Mode == "MUTUAL")
        {
            var files = new FilePaths(tls.ClientCertificate!, tls.PrivateKey);
            var fields = $"tls.clientCertificate {files.Path} / tls.privateKey {files.Key}";
            client = (X509Certificate2)await Read(tls, files, fields, log, wait, () => ClientCertificate(files)).ConfigureAwait(false);
        }
        X509Certificate2Collection? authorities = null;
        if (tls.CaCertificates is { } ca && !tls.InsecureSkipVerify)
        {
            var files = new FilePaths(ca, null);
            var fields = $"tls.caCertificates {ca}";
            authorities = (X509Certificate2Collection)await Read(tls, files, fields, log, wait, () => Authorities(ca)).ConfigureAwait(false);
        }
        return new TlsFiles(client, authorities);
    }

    private static async ValueTask<object> Read(UpstreamTls tls, FilePaths files, string fields, ILoggingAdapter log, TimeSpan wait, Func<object> parse)
    {
        try
        {
            var reading = Cached(files, tls, fields, log, parse);
            var loaded = reading.IsCompleted ? await reading.ConfigureAwait(false)
                : await reading.WaitAsync(wait).ConfigureAwait(false);
            // Readable again: a later failure is news, and is logged.
            if (!Reported.IsEmpty) Reported.TryRemove((tls.Rules, files), out _);
            return loaded;
        }
        catch (Exception e)
        {
            var why = e is TimeoutException ? $"still being read after {wait} (the connect timeout)" : e.Message;
            var error = new UpstreamTlsConfigurationException($"{tls.Rules} {fields} cannot be read: {why}", e);
            var key = (tls.Rules, files);
            if (Reported.TryAdd(key, error.Message)
                || (Reported.TryGetValue(key, out var logged) && logged != error.Message && Reported.TryUpdate(key, error.Message, logged)))
                log.Error("{0} (connections through it are refused until it is fixed)", error.Message);
            throw error;
        }
    }

    /// <summary>
    /// The upstream connection as a TLS session; throws (the caller counts it as a connect failure) when the handshake
    /// fails. The handshake has what is left of <paramref name="connectTimeout"/> since <paramref name="dialStarted"/>
    /// (a <see cref="System.Diagnostics.Stopwatch"/> timestamp): one deadline for connect and handshake, as Envoy's.
    /// <paramref name="plain"/> is this method's from the call on: closed on every failure, else owned by the session.
    /// </summary>
    public static async Task<TcpConnection> WrapAsync(TcpConnection plain, UpstreamTls tls, TlsFiles files, string host, byte[]? clearPreamble,
        IMaterializer materializer, TimeSpan connectTimeout, long dialStarted, CancellationToken cancel)
    {
        SslStream? ssl = null;
        TcpConnection? session = null;
        try
        {
            var remaining = connectTimeout - System.Diagnostics.Stopwatch.GetElapsedTime(dialStarted);
            var (inner, shutdownInner) = OpenStream(plain, materializer);
            var gated = new ShutdownGate.Inner(inner);
            ssl = new ShutdownGate.Session(gated);
            // A PROXY header precedes the handshake, unencrypted.
            if (clearPreamble is not null) await inner.WriteAsync(clearPreamble, cancel).ConfigureAwait(false);
            // Why Verify refused the upstream's certificate: .NET's own exception says only that the callback rejected it.
            string? refused = null;
            var options = new SslClientAuthenticationOptions
            {
                TargetHost = tls.Sni ?? host,
                RemoteCertificateValidationCallback = (_, certificate, chain, errors) => (refused = Refusal(tls, files.Authorities, certificate, chain, errors, host)) is null,
            };
            if (files.Client is { } client) options.ClientCertificates = [client];
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            deadline.CancelAfter(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero);
            try
            {
                await ssl.AuthenticateAsClientAsync(options, deadline.Token).ConfigureAwait(false);
                // The handshake's last read holds the gate: no read of the session's has begun to release it.
                gated.Leave();
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                throw new TimeoutException($"connect and TLS handshake with {plain.Remote} timed out after {connectTimeout}");
            }
            catch (Exception e) when (e is AuthenticationException or IOException)
            {
                throw new IOException($"TLS handshake with {plain.Remote} failed: {refused ?? Innermost(e)}", e);
            }
            var established = ssl;
            return session = new TcpConnection(plain.Local, plain.Remote,
                () => Flow.FromGraph(new StreamStage(established, async () => { await established.ShutdownAsync().ConfigureAwait(false); shutdownInner(); })),
                established.Dispose, (_, _) => ValueTask.FromException<int>(new InvalidOperationException("a TLS upstream is never read before it is joined")))
            {
                // A pending write of the session's fails once its socket is reset.
                ResetWith = plain.Reset,
            };
        }
        finally
        {
            // Whatever failed, and wherever: the session's stream owns the connection once it exists, else the connection is closed itself.
            if (session is null)
            {
                if (ssl is not null) await ssl.DisposeAsync().ConfigureAwait(false);
                else plain.Close();
            }
        }
    }

    private static string Innermost(Exception e)
    {
        while (e.InnerException is { } inner) e = inner;
        return e.Message;
    }

    /// <summary>The plain connection as a stream, and how to end its sending side (a FIN).</summary>
    private static (Stream Stream, Action ShutdownSend) OpenStream(TcpConnection plain, IMaterializer materializer)
    {
        if (plain.Socket is { } socket)
            return (new NetworkStream(socket, ownsSocket: true), () =>
            {
                try { socket.Shutdown(SocketShutdown.Send); }
                catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
            });
        var stream = new FlowStream(plain.Flow, materializer);
        return (stream, stream.ShutdownSend);
    }

    /// <summary>
    /// Why the upstream's certificate is refused (as the access log and /v1/status say it), or null when it is accepted.
    /// Its name is checked always (unless insecureSkipVerify): one of subjectAltNames, else the name sent as SNI (sni, else
    /// the destination <paramref name="host"/>), as Istio since 1.20 (VERIFY_CERTIFICATE_AT_CLIENT, auto SNI SAN validation).
    /// </summary>
    internal static string? Refusal(UpstreamTls tls, X509Certificate2Collection? authorities, X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors,
        string? host = null)
    {
        if (tls.InsecureSkipVerify) return null;
        if (certificate is null) return "the upstream sent no certificate";
        var server = certificate as X509Certificate2 ?? new X509Certificate2(certificate);
        var its = $"its certificate ({server.Subject})";
        var now = DateTime.Now;
        if (now > server.NotAfter) return $"{its} expired on {server.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm:ss}Z";
        if (now < server.NotBefore) return $"{its} is not valid before {server.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm:ss}Z";
        // With the intermediates the server sent: caCertificates usually holds only the root.
        if (authorities is not null)
        {
            if (!RemotingTls.ChainsTo(server, presented, authorities))
                return $"{its}, issued by {server.Issuer}, does not chain to tls.caCertificates {tls.CaCertificates} ({tls.Rules})";
        }
        else if ((errors & ~SslPolicyErrors.RemoteCertificateNameMismatch) != SslPolicyErrors.None)
        {
            var status = presented?.ChainStatus.Select(s => s.Status.ToString()).Distinct().ToList() is { Count: > 0 } found ? string.Join(", ", found) : errors.ToString();
            return $"{its}, issued by {server.Issuer}, is not trusted by this node's system certificate store ({status}; {tls.Rules} names no tls.caCertificates)";
        }

        if (!tls.SubjectAltNames.IsEmpty)
        {
            var names = server.Extensions.OfType<X509SubjectAlternativeNameExtension>()
                .SelectMany(san => san.EnumerateDnsNames().Concat(san.EnumerateIPAddresses().Select(ip => ip.ToString()))).ToList();
            return tls.SubjectAltNames.Any(wanted => names.Any(name => SanMatches(name, wanted))) ? null
                : $"{its} carries none of tls.subjectAltNames [{string.Join(", ", tls.SubjectAltNames)}] (it names [{string.Join(", ", names)}]; {tls.Rules})";
        }
        // Without subjectAltNames, the name sent as SNI (TargetHost, which .NET checked) is the name the certificate must carry.
        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0) return null;
        return tls.Sni is not null ? $"{its} is not for '{tls.Sni}' (tls.sni of {tls.Rules})"
            : $"{its} is not for '{host ?? "the destination host"}' (the destination host of {tls.Rules}; give tls.subjectAltNames or tls.sni to name another)";
    }

    /// <summary>
    /// A certificate's name against a wanted one, as RFC 6125 and Envoy match them: equal in any case, or a wildcard
    /// standing for exactly the left-most label (<c>*.example.com</c> covers <c>a.example.com</c>, not
    /// <c>a.b.example.com</c> or <c>example.com</c>); a bare <c>*</c> covers nothing.
    /// </summary>
    internal static bool SanMatches(string name, string wanted)
    {
        if (string.Equals(name, wanted, StringComparison.OrdinalIgnoreCase)) return true;
        if (!name.StartsWith("*.", StringComparison.Ordinal) || name.Length < 3) return false;
        var dot = wanted.IndexOf('.');
        return dot > 0 && string.Equals(wanted[dot..], name[1..], StringComparison.OrdinalIgnoreCase);
    }

    private static X509Certificate2Collection Authorities(string path)
    {
        var collection = new X509Certificate2Collection();
        collection.ImportFromPem(ReadPem(path));
        // Text without a certificate imports nothing, silently: an empty trust list would dial and refuse every upstream.
        if (collection.Count == 0) throw new IOException($"{path} holds no PEM certificate");
        return collection;
    }

    private static X509Certificate2 ClientCertificate(FilePaths files)
    {
        // Exported and loaded again: SslStream on some platforms wants a key it can persist, not an ephemeral PEM one.
        using var pem = X509Certificate2.CreateFromPem(ReadPem(files.Path), ReadPem(files.Key!));
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>
    /// The text of a TLS file, refused unread unless what <paramref name="path"/> leads to is a regular file of at most
    /// <see cref="MaxFileBytes"/>: a FIFO, a device (<c>/dev/zero</c>, <c>/dev/stdin</c>) or a socket would block or never
    /// end. .NET shows no file type, but such files, as empty ones, have no length, and no empty file is PEM. The file may
    /// still change under the check: the read stops at the limit, and it runs on a thread of its own (<see cref="Cached"/>).
    /// </summary>
    private static string ReadPem(string path)
    {
        var file = new FileInfo(File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? path);
        if (!file.Exists) throw new FileNotFoundException(Directory.Exists(file.FullName) ? $"{file.FullName} is a directory" : $"{file.FullName} does not exist");
        if (file.Length == 0) throw new IOException($"{file.FullName} is empty or not a regular file (a FIFO, device or socket), refused unread");
        if (file.Length > MaxFileBytes) throw new IOException($"{file.FullName} is larger than 1 MiB ({file.Length} bytes): not a PEM file, refused unread");
        using var handle = File.OpenHandle(file.FullName);
        var buffer = new byte[MaxFileBytes + 1];
        int length = 0;
        for (int n; length < buffer.Length && (n = RandomAccess.Read(handle, buffer.AsSpan(length), length)) > 0;) length += n;
        if (length > MaxFileBytes) throw new IOException($"{file.FullName} is larger than 1 MiB: not a PEM file, refused");
        return System.Text.Encoding.UTF8.GetString(buffer, 0, length);
    }

    /// <summary>
    /// When the file <paramref name="path"/> leads to was last written. Not the path's own time: on Linux that is lstat's, a
    /// symlink's own, and a rotation by symlink swap (a Kubernetes Secret's <c>..data</c>, certbot's live/ → archive/) leaves
    /// the link untouched. A readlink or two and a stat, on a reader's or checker's thread only (a hung mount blocks them).
    /// </summary>
    private static DateTime Modified(string path) =>
        File.GetLastWriteTimeUtc(File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? path);

    private static Times TimesOf(FilePaths files) => new(Modified(files.Path), files.Key is null ? default : Modified(files.Key));

    /// <summary>
    /// The read of <paramref name="files"/> in the cache (started if there is none), as it stands: no file is touched on the
    /// caller's thread. When the entry is due (<see cref="RecheckEvery"/>), a failed read is started again, and otherwise
    /// a check of the files' times is started on a thread of its own (one at a time per entry); the caller goes on with
    /// the entry it found.
    /// </summary>
    private static Task<object> Cached(FilePaths files, UpstreamTls tls, string fields, ILoggingAdapter log, Func<object> parse)
    {
        if (!Files.TryGetValue(files, out var entry))
            entry = Files.GetOrAdd(files, new Entry(e => OnItsOwnThread(() => ReadNow(files, e, tls, fields, log, parse))));
        var reading = entry.Reading;
        if (!entry.Due) return reading;
        if (reading.IsFaulted)
        {
            var again = new Entry(e => OnItsOwnThread(() => ReadNow(files, e, tls, fields, log, parse)));
            // Whoever replaced it first: theirs is read (a configuration change may have dropped it meanwhile: read, not kept).
            return (Files.TryUpdate(files, again, entry) ? again : Files.TryGetValue(files, out var current) ? current : again).Reading;
        }
        if (Interlocked.CompareExchange(ref entry.Checking, 1, 0) == 0)
            OnItsOwnThread(() =>
            {
                Recheck(files, entry, tls, fields, log, parse);
                return entry;
            });
        return reading;
    }

    /// <summary>Runs <paramref name="work"/> on a thread of its own (not the pool's: it may block on a file).</summary>
    private static Task<object> OnItsOwnThread(Func<object> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>
    /// Reads <paramref name="files"/> for <paramref name="entry"/> on the calling thread (one of its own), saying so in the
    /// log. The times are taken first: a file written between the two is read again at the next check.
    /// </summary>
    private static object ReadNow(FilePaths files, Entry entry, UpstreamTls tls, string fields, ILoggingAdapter log, Func<object> parse)
    {
        // Before the stat below too: a path outside the roots is refused the same way whether it exists or not (sec15).
        TlsFileRoots.Check(files.Path, files.Key);
        var seen = entry.Seen = TimesOf(files);
        var parsed = parse();
        log.Info("{0} {1}: read (modified {2:u}{3})", tls.Rules, fields, seen.Modified, files.Key is null ? "" : $", key modified {seen.KeyModified:u}");
        return parsed;
    }

    /// <summary>
    /// On a thread of its own: whether <paramref name="entry"/>'s files still have the times it was read at. If so it is
    /// good for another <see cref="RecheckEvery"/>; if not (or they cannot be stat'ed) they are read again here and a good
    /// new read replaces the entry (connections use the old one until then). A failed one does not: the copy in hand stays,
    /// with its old times, so the files are read again at the next check (a certificate written before its key reads once
    /// the key is there; deleted files keep the last copy read until the rule no longer names them). A read still in
    /// progress (a hung mount) whose files have changed since it began is replaced at once by a new one.
    /// </summary>
    private static void Recheck(FilePaths files, Entry entry, UpstreamTls tls, string fields, ILoggingAdapter log, Func<object> parse)
    {
        try
        {
            Times? now;
            try { now = TimesOf(files); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { now = null; }
            var reading = entry.Reading;
            if (now is not null && (now == entry.Seen || (!reading.IsCompleted && entry.Seen is null)))
            {
                Volatile.Write(ref entry.Checked, System.Diagnostics.Stopwatch.GetTimestamp());
                return;
            }
            Entry again;
            if (reading.IsCompletedSuccessfully)
            {
                again = new Entry(e =>
                {
                    try { return Task.FromResult(ReadNow(files, e, tls, fields, log, parse)); }
                    catch (Exception failed) { return Task.FromException<object>(failed); }
                });
                if (again.Reading.Exception?.GetBaseException() is { } failed)
                {
                    // The copy in hand stays, its times too: the next check reads the files again.
                    if (entry.Failing != failed.Message)
                        log.Warning("{0} {1} cannot be read again ({2}): connections go on with the copy read before (modified {3:u}); read again every {4} s until it reads",
                            tls.Rules, fields, failed.Message, entry.Seen?.Modified, RecheckEvery.TotalSeconds);
                    else log.Debug("{0} {1} still cannot be read again ({2}): the copy read before stays", tls.Rules, fields, failed.Message);
                    entry.Failing = failed.Message;
                    Volatile.Write(ref entry.Checked, System.Diagnostics.Stopwatch.GetTimestamp());
                    return;
                }
            }
            else again = new Entry(e => OnItsOwnThread(() => ReadNow(files, e, tls, fields, log, parse)));
            Files.TryUpdate(files, again, entry);
        }
        finally
        {
            Volatile.Write(ref entry.Checking, 0);
        }
    }

    /// <summary>
    /// Keeps a session's close_notify from being made while a read of the session's decrypts. OpenSSL's objects are not
    /// thread safe; .NET's SslStream takes its own lock around every encryption and decryption (so one read and one write
    /// may run at once: dotnet/runtime#32925) but not in <see cref="SslStream.ShutdownAsync"/>, whose SSL_shutdown and
    /// SSL_do_handshake (CreateShutdownToken) then run on the same SSL object as the read's SSL_read. A client that
    /// half-closes while its upstream still answers makes exactly that happen (<see cref="StreamStage"/> ends the sending
    /// side while its read is in flight): the read failed with "The decryption operation failed" (SSL_ERROR_SYSCALL, or
    /// SSL_ERROR_SSL "wrong version number"), about one connection in several hundred, and now and then the process died of
    /// SIGSEGV in SslDoHandshake (CI, session 15; TlsHalfCloseTests). A read of the session holds the gate from its start
    /// (it may decrypt records it read before) to its return, except while it waits on the connection; the shutdown takes
    /// it for the close_notify's making (synchronous), not for its sending. A read waiting for the upstream holds nothing.
    /// A .NET runtime bug to work around, not to rely on: remove the gate once SslStream.ShutdownAsync takes its lock.
    /// </summary>
    private static class ShutdownGate
    {
        /// <summary>The connection under the session: a read that returns takes the gate; the next read releases it.</summary>
        public sealed class Inner(Stream connection) : DuplexStream
        {
            internal readonly SemaphoreSlim Gate = new(1, 1);
            // Touched by the one read in flight only (SslStream reads one at a time), and the handshake before it.
            private bool _held;

            /// <summary>A read of the session's begins: it may decrypt records it holds already, without reading the connection.</summary>
            public async ValueTask EnterAsync()
            {
                await Gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
                _held = true;
            }

            /// <summary>The session's read is done with what it was given.</summary>
            public void Leave()
            {
                if (!_held) return;
                _held = false;
                Gate.Release();
            }

            public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            {
                Leave();
                var read = await connection.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                await EnterAsync().ConfigureAwait(false);
                return read;
            }

            public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
                ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

            public override int Read(byte[] buffer, int offset, int count)
            {
                Leave();
                var read = connection.Read(buffer, offset, count);
                Gate.Wait();
                _held = true;
                return read;
            }

            public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => connection.WriteAsync(buffer, cancellationToken);
            public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => connection.WriteAsync(buffer, offset, count, cancellationToken);
            public override void Write(byte[] buffer, int offset, int count) => connection.Write(buffer, offset, count);
            public override Task FlushAsync(CancellationToken cancellationToken) => connection.FlushAsync(cancellationToken);
            public override void Flush() => connection.Flush();

            protected override void Dispose(bool disposing)
            {
                if (disposing) connection.Dispose();
                base.Dispose(disposing);
            }
        }

        /// <summary>The session: its reads leave the gate when they return; its shutdown makes the close_notify holding it.</summary>
        public sealed class Session(Inner inner) : SslStream(inner, leaveInnerStreamOpen: false)
        {
            public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            {
                await inner.EnterAsync().ConfigureAwait(false);
                try { return await base.ReadAsync(buffer, cancellationToken).ConfigureAwait(false); }
                finally { inner.Leave(); }
            }

            public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
                ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

            public override int Read(byte[] buffer, int offset, int count)
            {
                inner.EnterAsync().AsTask().GetAwaiter().GetResult();
                try { return base.Read(buffer, offset, count); }
                finally { inner.Leave(); }
            }

            public override async Task ShutdownAsync()
            {
                Task sending;
                await inner.Gate.WaitAsync().ConfigureAwait(false);
                try { sending = base.ShutdownAsync(); }
                finally { inner.Gate.Release(); }
                await sending.ConfigureAwait(false);
            }
        }
    }

    /// <summary>A stream that reads and writes, and nothing else (no seeking, no length).</summary>
    internal abstract class DuplexStream : Stream
    {
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary>
    /// A connection of the stock transport as a stream: writes are offered to its flow, reads pulled from it. Its end (or
    /// failure) is kept and given to every later read: a pull of the queue once it has completed fails (the stream is
    /// detached) or, racing the queue's stop, never returns, and SslStream reads again after a zero-byte read has met the
    /// end (its own read for the session's zero-byte one), so the session's read hung and the client of a TLS upstream
    /// that closed after the client's half-close was never closed (TlsResetAfterHalfCloseTests, session 26).
    /// </summary>
    internal sealed class FlowStream : DuplexStream
    {
        private readonly ISourceQueueWithComplete<ByteString> _toPeer;
        private readonly ISinkQueue<ByteString> _fromPeer;
        private readonly UniqueKillSwitch _stopReading;
        private ByteString _pending = ByteString.Empty;
        private bool _sendingEnded;
        /// <summary>The peer's end was read (true), or reading failed (<see cref="_failed"/>): no pull is made again.</summary>
        private bool _ended;
        private System.Runtime.ExceptionServices.ExceptionDispatchInfo? _failed;

        public FlowStream(Flow<ByteString, ByteString, Akka.NotUsed> flow, IMaterializer materializer) =>
            ((_toPeer, _stopReading), _fromPeer) = Source.Queue<ByteString>(16, OverflowStrategy.Backpressure).Via(flow)
                .ViaMaterialized(KillSwitches.Single<ByteString>(), Keep.Both)
                .ToMaterialized(Sink.Queue<ByteString>(), Keep.Both).Run(materializer);

        public void ShutdownSend()
        {
            if (_sendingEnded) return;
            _sendingEnded = true;
            _toPeer.Complete();
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_pending.IsEmpty)
            {
                _failed?.Throw();
                if (_ended) return 0;
                Akka.Util.Option<ByteString> next;
                try
                {
                    next = await _fromPeer.PullAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    _failed = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
                    throw;
                }
                if (!next.HasValue)
                {
                    _ended = true;
                    return 0;
                }
                _pending = next.Value;
            }
            var n = Math.Min(buffer.Length, _pending.Count);
            _pending.Slice(0, n).ToArray().CopyTo(buffer);
            _pending = _pending.Slice(n);
            return n;
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var result = await _toPeer.OfferAsync(ByteString.FromBytes(buffer.ToArray())).WaitAsync(cancellationToken).ConfigureAwait(false);
            if (result is not QueueOfferResult.Enqueued) throw new IOException($"the upstream connection is closed ({result})");
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();
        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();
        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public override void Flush() { }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                ShutdownSend();
                _stopReading.Shutdown();
            }
            base.Dispose(disposing);
        }
    }
}

/// <summary>The files of a DestinationRule's <c>tls</c>, read before dialling: MUTUAL's client certificate, the <c>caCertificates</c> to trust.</summary>
public readonly record struct TlsFiles(X509Certificate2? Client, X509Certificate2Collection? Authorities);

/// <summary>
/// A DestinationRule's TLS settings cannot be used on this node (an unreadable client certificate or CA file): a configuration
/// error, so the connection is refused before any upstream is dialled, and no endpoint is held responsible.
/// </summary>
public sealed class UpstreamTlsConfigurationException(string message, Exception inner) : Exception(message, inner);
