using Akka.Event;

namespace AkkaL4.Node.Admin;

/// <summary>
/// The admin API's handler failures (the catch-all's 500s), logged so that no client drives the log's rate, as
/// <see cref="RefusalLog"/> does for refusals: the first failure of an <see cref="Interval"/> is logged at once with its
/// stack; the rest of that interval make one line with their count at its end.
/// </summary>
internal sealed class FailureLog : IDisposable
{
    public static readonly TimeSpan Interval = RefusalLog.Interval;

    private readonly ILoggingAdapter _log;
    private readonly ITimer _timer;
    private readonly object _lock = new();
    private bool _logged;
    private long _unlogged;
    private string _last = "";

    public FailureLog(ILoggingAdapter log, TimeProvider time)
    {
        _log = log;
        _timer = time.CreateTimer(_ => Flush(), null, Interval, Interval);
    }

    /// <param name="request">"METHOD PATH"</param>
    public void Failed(Exception cause, string request)
    {
        lock (_lock)
        {
            if (_logged)
            {
                _unlogged++;
                _last = $"{request}: {cause.GetType().Name}: {cause.Message}";
                return;
            }
            _logged = true;
        }
        _log.Error(cause, "admin API: {0} failed (further failures within {1:0}s are counted, not logged each)", request, Interval.TotalSeconds);
    }

    /// <summary>The interval's end: one line with the count of failures not logged (the timer's; tests call it too).</summary>
    public void Flush()
    {
        long unlogged;
        string last;
        lock (_lock)
        {
            (unlogged, _unlogged, _logged, last) = (_unlogged, 0, false, _last);
        }
        if (unlogged > 0)
            _log.Error("admin API: {0} more request(s) failed in the last {1:0}s; the last: {2}", unlogged, Interval.TotalSeconds, last);
    }

    public void Dispose()
    {
        _timer.Dispose();
        Flush();
    }
}
