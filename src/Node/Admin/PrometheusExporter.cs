using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using AkkaL4.Actors.DataPlane;

namespace AkkaL4.Node.Admin;

/// <summary>
/// <c>/metrics</c> in Prometheus' text format, from a <see cref="MeterListener"/>: one node's data-plane meter with
/// its names as they are (Envoy's and Istio's spelling, nothing appended), the .NET runtime's <c>System.Runtime</c>
/// meter and this API's Kestrel meters (dots become underscores, the unit and <c>_total</c> are appended as
/// OpenTelemetry's Prometheus mapping does). Meter-level tags (the node's name) are not printed: one node, one scrape.
/// </summary>
internal sealed class PrometheusExporter : IDisposable
{
    /// <summary>Seconds: Kestrel's and the runtime's durations, when an instrument gives no buckets of its own.</summary>
    private static readonly double[] SecondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, Family> _families = new();
    private readonly DataPlaneMetrics _dataPlane;
    private readonly Meter _own;
    private readonly object _scrape = new();

    private sealed class Family
    {
        public readonly string Name, Type;
        public readonly string? Help;
        public readonly double[]? Buckets;
        public readonly bool Observed;
        /// <summary>The data plane's: a series of a listener, cluster or workload the node no longer has goes.</summary>
        public readonly bool Own;
        public readonly ConcurrentDictionary<LabelSet, Series> Series = new(LabelSet.Comparer.Instance);
        /// <summary>Finds a measurement's series by its tags as they come, without building its label text again.</summary>
        public readonly ConcurrentDictionary<LabelSet, Series>.AlternateLookup<ReadOnlySpan<KeyValuePair<string, object?>>> ByTags;

        public Family(string name, string type, string? help, double[]? buckets, bool observed, bool own)
        {
            (Name, Type, Help, Buckets, Observed, Own) = (name, type, help, buckets, observed, own);
            ByTags = Series.GetAlternateLookup<ReadOnlySpan<KeyValuePair<string, object?>>>();
        }
    }

    /// <summary>A series' tags and its label text, built once per series.</summary>
    private sealed class LabelSet(KeyValuePair<string, object?>[] tags)
    {
        public readonly KeyValuePair<string, object?>[] Tags = tags;
        public readonly string Text = Labels(tags);
        public readonly int Hash = HashOf(tags);

        private static int HashOf(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var hash = new HashCode();
            foreach (var (key, value) in tags)
            {
                hash.Add(key);
                hash.Add(value);
            }
            return hash.ToHashCode();
        }

        public sealed class Comparer : IEqualityComparer<LabelSet>, IAlternateEqualityComparer<ReadOnlySpan<KeyValuePair<string, object?>>, LabelSet>
        {
            public static readonly Comparer Instance = new();

            public bool Equals(LabelSet? x, LabelSet? y) => ReferenceEquals(x, y) || (x is not null && y is not null && Equals(x.Tags, y));
            public int GetHashCode(LabelSet set) => set.Hash;

            public bool Equals(ReadOnlySpan<KeyValuePair<string, object?>> tags, LabelSet set)
            {
                if (tags.Length != set.Tags.Length) return false;
                for (var i = 0; i < tags.Length; i++)
                    if (tags[i].Key != set.Tags[i].Key || !object.Equals(tags[i].Value, set.Tags[i].Value)) return false;
                return true;
            }

            public int GetHashCode(ReadOnlySpan<KeyValuePair<string, object?>> tags) => HashOf(tags);
            public LabelSet Create(ReadOnlySpan<KeyValuePair<string, object?>> tags) => new(tags.ToArray());
        }
    }

    private sealed class Series(int buckets)
    {
        public double Value;
        public readonly long[] Counts = new long[buckets + 1];
        public double Sum;
        public long Count;
    }

    /// <param name="dataPlane">The node's data-plane metrics.</param>
    /// <param name="kestrel">The API's meter factory (its Kestrel and hosting meters are scoped to it).</param>
    public PrometheusExporter(DataPlaneMetrics dataPlane, IMeterFactory? kestrel)
    {
        _dataPlane = dataPlane;
        var own = _own = dataPlane.Meter;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            var meter = instrument.Meter;
            if (!ReferenceEquals(meter, own) && meter.Name != "System.Runtime"
                && !(kestrel is not null && ReferenceEquals(meter.Scope, kestrel) && meter.Name.StartsWith("Microsoft.AspNetCore.Server.Kestrel", StringComparison.Ordinal)))
                return;
            _families[instrument] = FamilyOf(instrument);
            listener.EnableMeasurementEvents(instrument);
        };
        _listener.MeasurementsCompleted = (instrument, state) => _families.TryRemove(instrument, out var _);
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    private Family FamilyOf(Instrument instrument)
    {
        var type = instrument switch
        {
            Counter<long> or Counter<int> or Counter<double> or ObservableCounter<long> or ObservableCounter<int> or ObservableCounter<double> => "counter",
            Histogram<long> or Histogram<int> or Histogram<double> => "histogram",
            _ => "gauge",
        };
        var name = instrument.Name;
        if (!ReferenceEquals(instrument.Meter, _own))
        {
            name = Sanitize(name);
            var unit = instrument.Unit switch { "s" => "_seconds", "By" => "_bytes", "ms" => "_milliseconds", _ => "" };
            if (unit.Length > 0 && !name.EndsWith(unit, StringComparison.Ordinal)) name += unit;
            if (type == "counter" && !name.EndsWith("_total", StringComparison.Ordinal)) name += "_total";
        }
        double[]? buckets = null;
        if (type == "histogram")
            buckets = (instrument as Histogram<double>)?.Advice?.HistogramBucketBoundaries?.ToArray() ?? SecondsBuckets;
        var observed = instrument.IsObservable;
        return new Family(name, type, instrument.Description, buckets, observed, ReferenceEquals(instrument.Meter, _own));
    }

    private static string Sanitize(string name)
    {
        var sb = new StringBuilder(name.Length);
        foreach (var c in name) sb.Append(char.IsAsciiLetterOrDigit(c) || c == '_' || c == ':' ? c : '_');
        return sb.ToString();
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (!_families.TryGetValue(instrument, out var family)) return;
        // A scrape may prune the series between a miss and the add: loop rather than index, which would throw into the
        // connection actor that records (a measurement made into a series pruned just after is as good as lost anyway).
        Series? series;
        while (!family.ByTags.TryGetValue(tags, out series))
        {
            var fresh = new Series(family.Buckets?.Length ?? 0);
            if (!family.ByTags.TryAdd(tags, fresh)) continue;
            series = fresh;
            break;
        }
        lock (series)
        {
            switch (family.Type)
            {
                case "histogram":
                    var i = 0;
                    while (i < family.Buckets!.Length && value > family.Buckets[i]) i++;
                    series.Counts[i]++;
                    series.Sum += value;
                    series.Count++;
                    break;
                // Observed values are absolute; Counter and UpDownCounter report increments.
                default:
                    if (family.Observed || instrument is Gauge<long> or Gauge<int> or Gauge<double>) series.Value = value;
                    else series.Value += value;
                    break;
            }
        }
    }

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0) return "";
        var sb = new StringBuilder();
        foreach (var (key, value) in tags)
        {
            sb.Append(sb.Length == 0 ? "" : ",").Append(Sanitize(key)).Append("=\"");
            foreach (var c in Convert.ToString(value, CultureInfo.InvariantCulture) ?? "")
                sb.Append(c switch { '\\' => "\\\\", '"' => "\\\"", '\n' => "\\n", _ => c.ToString() });
            sb.Append('"');
        }
        return sb.ToString();
    }

    private static string Number(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" : value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>The text exposition of everything, observable instruments read now.</summary>
    public string Scrape()
    {
        lock (_scrape)
        {
            // An observed series that is no longer reported (a removed cluster) goes away, and so do the data plane's
            // counters and histograms of what the node no longer has (see DataPlaneMetrics.Retain).
            foreach (var family in _families.Values.Where(f => f.Observed)) family.Series.Clear();
            var live = _dataPlane.Exported();
            foreach (var family in _families.Values.Where(f => f.Own && !f.Observed))
                foreach (var (labels, _) in family.Series)
                    if (!live.Has(labels.Tags))
                        family.Series.TryRemove(labels, out _);
            // Read in the reverse of the order a close writes (DataPlaneMetrics.Closed: gauges and histograms, then the closed
            // counter): the closed counter first, then the other pushed instruments, then the observable ones (gauges, byte
            // counters) are observed. A scrape that shows a connection closed shows every other figure of its close too; read
            // the other way round, a close between two readings showed it closed and still active.
            var groups = _families.GroupBy(f => f.Value.Name).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
            var texts = new string?[groups.Count];
            foreach (var last in new[] { true, false })
                for (var i = 0; i < groups.Count; i++)
                    if (!groups[i].First().Value.Observed && groups[i].Any(f => ReferenceEquals(f.Key, _dataPlane.IstioClosed)) == last)
                        texts[i] = Text(groups[i]);
            _listener.RecordObservableInstruments();
            var sb = new StringBuilder();
            for (var i = 0; i < groups.Count; i++) sb.Append(texts[i] ?? Text(groups[i]));
            return sb.ToString();
        }
    }

    /// <summary>One family's text (the first of those with its name: a meter may be created twice, say).</summary>
    private static string Text(IGrouping<string, KeyValuePair<Instrument, Family>> group)
    {
        var family = group.First().Value;
        var sb = new StringBuilder();
        if (family.Help is { Length: > 0 } help) sb.Append("# HELP ").Append(family.Name).Append(' ').Append(help.Replace("\\", "\\\\").Replace("\n", "\\n")).Append('\n');
        sb.Append("# TYPE ").Append(family.Name).Append(' ').Append(family.Type).Append('\n');
        foreach (var (labels, series) in group.SelectMany(f => f.Value.Series).OrderBy(s => s.Key.Text, StringComparer.Ordinal))
            lock (series) Write(sb, family, labels.Text, series);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, Family family, string labels, Series series)
    {
        if (family.Type != "histogram")
        {
            sb.Append(family.Name).Append(labels.Length == 0 ? "" : $"{{{labels}}}").Append(' ').Append(Number(series.Value)).Append('\n');
            return;
        }
        var prefix = labels.Length == 0 ? "" : labels + ",";
        long cumulative = 0;
        for (var i = 0; i <= family.Buckets!.Length; i++)
        {
            cumulative += series.Counts[i];
            var le = i < family.Buckets.Length ? Number(family.Buckets[i]) : "+Inf";
            sb.Append(family.Name).Append("_bucket{").Append(prefix).Append("le=\"").Append(le).Append("\"} ").Append(cumulative).Append('\n');
        }
        sb.Append(family.Name).Append("_sum").Append(labels.Length == 0 ? "" : $"{{{labels}}}").Append(' ').Append(Number(series.Sum)).Append('\n');
        sb.Append(family.Name).Append("_count").Append(labels.Length == 0 ? "" : $"{{{labels}}}").Append(' ').Append(series.Count).Append('\n');
    }

    public void Dispose() => _listener.Dispose();
}
