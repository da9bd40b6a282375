using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace AkkaL4.Node.Admin;

/// <summary>
/// The headers on every answer of the admin API: no framing, no sniffing, no referrer, nothing cached (status and
/// configuration are for whoever asked), and the page's own script and style only.
/// </summary>
internal static class SecurityHeaders
{
    public static readonly IReadOnlyList<(string Name, string Value)> All =
    [
        ("Content-Security-Policy", StatusPage.ContentSecurityPolicy),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cache-Control", "no-store"),
    ];

    /// <summary>On an answer the API writes, before anything is written.</summary>
    public static void Set(IHeaderDictionary headers)
    {
        foreach (var (name, value) in All) headers[name] = value;
    }

    private static readonly byte[] Lines = Encoding.ASCII.GetBytes(string.Concat(All.Select(h => $"{h.Name}: {h.Value}\r\n")));

    /// <summary>
    /// A connection's output (HTTP/1.1, after TLS) that adds the headers to the answers Kestrel writes by itself: a
    /// request it cannot parse (400, 414, 431, 505), headers too slow (408), a request refused after the application
    /// ran. Those are written before or after any middleware, with Kestrel's own few headers; they are written only
    /// while no request is in the application (<see cref="RequestStarted"/> to <see cref="RequestEnded"/>, which
    /// Kestrel calls once the answer is written). What is written then is held until flushed, and a held error head
    /// ("HTTP/1.x 4.." or "5..") gets the header lines after its status line; anything else passes as it was.
    /// </summary>
    internal sealed class ConnectionOutput(PipeWriter inner) : PipeWriter
    {
        private volatile bool _inRequest;
        /// <summary>Written while no request is in the application, until the next flush (made on first use: errors only).</summary>
        private ArrayBufferWriter<byte>? _held;
        private bool _holding;

        public void RequestStarted() => _inRequest = true;
        public void RequestEnded() => _inRequest = false;

        private bool Hold()
        {
            _holding = !_inRequest;
            if (_holding) _held ??= new ArrayBufferWriter<byte>(256);
            return _holding;
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => Hold() ? _held!.GetMemory(sizeHint) : inner.GetMemory(sizeHint);
        public override Span<byte> GetSpan(int sizeHint = 0) => Hold() ? _held!.GetSpan(sizeHint) : inner.GetSpan(sizeHint);

        public override void Advance(int bytes)
        {
            if (_holding) _held!.Advance(bytes);
            else inner.Advance(bytes);
        }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            Release();
            return inner.FlushAsync(cancellationToken);
        }

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        // Kestrel counts the unflushed bytes of the writer under it (JSON answers ask).
        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;
        public override long UnflushedBytes => inner.UnflushedBytes + (_held?.WrittenCount ?? 0);

        public override void Complete(Exception? exception = null)
        {
            Release();
            inner.Complete(exception);
        }

        private void Release()
        {
            if (_held is not { WrittenCount: > 0 }) return;
            var written = _held.WrittenSpan;
            var statusLine = ErrorStatusLineLength(written);
            if (statusLine > 0)
            {
                inner.Write(written[..statusLine]);
                inner.Write(Lines);
                inner.Write(written[statusLine..]);
            }
            else inner.Write(written);
            _held.ResetWrittenCount();
        }

        /// <summary>The length of "HTTP/1.x 4xx ...\r\n" (or 5xx) at the start of <paramref name="head"/>; 0 when it is none.</summary>
        private static int ErrorStatusLineLength(ReadOnlySpan<byte> head)
        {
            if (head.Length < 13 || !head.StartsWith("HTTP/1."u8) || head[8] != (byte)' ' || head[9] is not ((byte)'4' or (byte)'5')) return 0;
            var end = head.IndexOf("\r\n"u8);
            return end < 0 ? 0 : end + 2;
        }
    }

    /// <summary>A connection's input with <see cref="ConnectionOutput"/> as its output.</summary>
    internal sealed class Duplex(IDuplexPipe transport, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = transport.Input;
        public PipeWriter Output { get; } = output;
    }
}
