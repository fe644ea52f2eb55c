using System.Text.Json;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>
/// The HTML report of real checks, opened in a real browser (headless Chromium): it renders with no error, draws one
/// line per growing type, draws each cause's owner and accumulation point, and is not a blank page.
/// </summary>
public sealed class HtmlReportBrowserTests
{
    [Fact]
    public void ALeaksReport_Renders_WithALinePerGrowingType_AndItsCauseDrawnFromOwnerToAccumulationPoint()
    {
        LeakReport report;
        try
        {
            report = LeakDetector.Run(() => new BrowserChart());
        }
        finally
        {
            BrowserChart.Forget();
        }
        Assert.True(report.HasLeaks, report.ToString());
        LeakCause cause = Assert.Single(report.Causes);

        using Rendered page = Rendered.Of(report.ToHtml());

        Assert.Equal(report.GrowingTypes.Select(t => t.Type).Order(), page.SeriesOfChart(0).Order());
        Assert.Equal(report.GrowingTypes.Select(t => t.Type).Order(), page.SeriesOfChart(1).Order());
        Assert.Equal($"static field {typeof(BrowserChart).FullName}.Ticked", page.Text("#cause-1 .node.root text"));
        int point = cause.AccumulationPoint!.Value;
        Assert.StartsWith(Reports.TypeNames.Short(cause.Path[point].Type), page.Text("#cause-1 .node.accumulation text"));
        Assert.Contains("accumulates here", page.Text("#cause-1 .node.accumulation text"));
        Assert.Equal(cause.Types.Count, page.Browser.Evaluate("document.querySelectorAll('#cause-1 .node.kept').length").GetInt32());
        // What the cause keeps alive in all, as measured: shown, and the same number as the report's.
        Assert.True(cause.RetainedBytes > 0, report.ToString());
        Assert.Equal(cause.RetainedBytes!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), page.Browser.Evaluate("document.querySelector('#cause-1 .retained').dataset.bytes").GetString());
        Assert.InRange(page.Inked, 0.01, 1.0);
    }

    [Fact]
    public void ACleanChecksReport_Renders_WithNoChartAndNoCause()
    {
        LeakReport report = LeakDetector.Run(() => GC.KeepAlive(new BrowserChart.Reading()));
        Assert.False(report.HasLeaks, report.ToString());

        using Rendered page = Rendered.Of(report.ToHtml());

        Assert.Equal("No leak", page.Text("h1"));
        Assert.Equal(0, page.Browser.Evaluate("document.querySelectorAll('polyline.series, article.cause').length").GetInt32());
        Assert.InRange(page.Inked, 0.001, 1.0);
    }

    [Fact]
    public void AGrowthInBytesOnly_IsDrawnFlatInCountsAndRisingInBytes()
    {
        LeakReport report;
        try
        {
            report = LeakDetector.Run(BrowserSamples.Handle);
        }
        finally
        {
            BrowserSamples.Forget();
        }
        string array = typeof(BrowserSamples.Sample).FullName + "[]";
        Assert.Contains(report.GrowingTypes, t => t.Type == array && t.InstancesPerIteration == 0);

        using Rendered page = Rendered.Of(report.ToHtml());

        Assert.Contains(array, page.SeriesOfChart(0));
        string Heights(int chart) => $"new Set([...document.querySelectorAll('figure.chart')[{chart}].querySelectorAll('polyline.series')]" +
            $".filter(p => p.dataset.type === {JsonSerializer.Serialize(array)})[0].getAttribute('points').split(' ').map(p => p.split(',')[1])).size";
        Assert.Equal(1, page.Browser.Evaluate(Heights(0)).GetInt32());
        Assert.True(page.Browser.Evaluate(Heights(1)).GetInt32() > 1, "the bytes line rises");
        Assert.InRange(page.Inked, 0.01, 1.0);
    }

    /// <summary>A report written to a private file and opened in the browser, which must have logged no error.</summary>
    private sealed class Rendered : IDisposable
    {
        private readonly string _folder = Directory.CreateTempSubdirectory("leakhunter-html-").FullName;

        private Rendered(string html)
        {
            string file = Path.Combine(_folder, "report.html");
            File.WriteAllText(file, html);
            Browser = HeadlessChromium.Start();
            Browser.Open(file);
            Assert.Empty(Browser.Errors());
            Inked = HeadlessChromium.InkedShare(Browser.Screenshot());
        }

        public HeadlessChromium Browser { get; }

        /// <summary>The share of the screenshot's pixels that are not white.</summary>
        public double Inked { get; }

        public static Rendered Of(string html) => new(html);

        public string Text(string selector) => Browser.Evaluate($"document.querySelector({JsonSerializer.Serialize(selector)}).textContent").GetString()!;

        /// <summary>The full type name of every line of the chart at <paramref name="index"/>.</summary>
        public string[] SeriesOfChart(int index) =>
            Browser.Evaluate($"[...document.querySelectorAll('figure.chart')[{index}].querySelectorAll('polyline.series')].map(p => p.dataset.type)")
                .EnumerateArray().Select(e => e.GetString()!).ToArray();

        public void Dispose()
        {
            Browser.Dispose();
            Directory.Delete(_folder, recursive: true);
        }
    }
}

/// <summary>A chart that subscribes to a static event and never unsubscribes: it, its handler and its points pile up.</summary>
internal sealed class BrowserChart
{
    private readonly double[] _points = new double[8];

    public BrowserChart() => Ticked += OnTicked;

    public static event EventHandler? Ticked;

    public static void Tick() => Ticked?.Invoke(null, EventArgs.Empty);

    /// <summary>Drops every subscriber, so the next test starts from a clean heap.</summary>
    public static void Forget() => Ticked = null;

    private void OnTicked(object? sender, EventArgs e) => _points[0]++;

    public sealed class Reading;
}

/// <summary>The same sample added to a static list per call: the list's array grows in bytes, its count stays one.</summary>
internal static class BrowserSamples
{
    private static readonly Sample s_sample = new();
    private static readonly List<Sample> s_samples = [];

    public static void Handle() => s_samples.Add(s_sample);

    public static void Forget()
    {
        s_samples.Clear();
        s_samples.TrimExcess();
    }

    public sealed class Sample;
}
