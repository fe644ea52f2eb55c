using System.Diagnostics;
using System.IO.Compression;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;

namespace LeakHunter.Tests;

/// <summary>
/// Debian's Chromium, headless, driven over the DevTools protocol: opens a file, reports what the page logged as an
/// error, evaluates expressions in it and takes a screenshot. The browser and its profile folder go when this does.
/// </summary>
internal sealed partial class HeadlessChromium : IDisposable
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(60);
    private readonly Process _browser;
    private readonly string _profile;
    private readonly ClientWebSocket _page = new();
    private readonly List<JsonElement> _events = [];
    private readonly Dictionary<int, TaskCompletionSource<JsonElement>> _pending = [];
    private readonly Task _receiving;
    private int _nextId;

    private HeadlessChromium(Process browser, string profile, Uri page)
    {
        _browser = browser;
        _profile = profile;
        _page.ConnectAsync(page, CancellationToken.None).WaitAsync(s_limit).GetAwaiter().GetResult();
        _receiving = Task.Run(ReceiveAsync);
    }

    public static HeadlessChromium Start()
    {
        string executable = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("The HTML report is checked in a real browser: install Debian's chromium (apt-get install chromium), as .ci/run does.");
        string profile = Directory.CreateTempSubdirectory("leakhunter-chromium-").FullName;
        var start = new ProcessStartInfo(executable) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string argument in new[]
        {
            "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--no-default-browser-check",
            "--remote-debugging-port=0", $"--user-data-dir={profile}", "--window-size=1000,1400", "about:blank",
        })
            start.ArgumentList.Add(argument);
        Process browser = Process.Start(start)!;
        try
        {
            // The browser says where its DevTools endpoint listens; the port is its own choice.
            var listening = new TaskCompletionSource<int>();
            browser.ErrorDataReceived += (_, line) =>
            {
                if (line.Data is not null && DevToolsListening().Match(line.Data) is { Success: true } m)
                    listening.TrySetResult(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
            };
            browser.BeginErrorReadLine();
            browser.BeginOutputReadLine();
            int port = listening.Task.WaitAsync(s_limit).GetAwaiter().GetResult();
            using var http = new HttpClient();
            using JsonDocument targets = JsonDocument.Parse(http.GetStringAsync($"http://127.0.0.1:{port}/json/list").WaitAsync(s_limit).GetAwaiter().GetResult());
            string page = targets.RootElement.EnumerateArray().First(t => t.GetProperty("type").GetString() == "page").GetProperty("webSocketDebuggerUrl").GetString()!;
            return new HeadlessChromium(browser, profile, new Uri(page));
        }
        catch
        {
            browser.Kill(entireProcessTree: true);
            browser.Dispose();
            Directory.Delete(profile, recursive: true);
            throw;
        }
    }

    /// <summary>Opens <paramref name="file"/> and waits for its load event.</summary>
    public void Open(string file)
    {
        Send("Runtime.enable");
        Send("Log.enable");
        Send("Page.enable");
        lock (_events)
            _events.Clear();
        Send("Page.navigate", new { url = new Uri(file).AbsoluteUri });
        Assert.True(SpinWait.SpinUntil(() => Events().Any(e => e.GetProperty("method").GetString() == "Page.loadEventFired"), s_limit), $"{file} never finished loading");
    }

    /// <summary>What the page reported as an error: console errors, uncaught exceptions, and failed loads.</summary>
    public IReadOnlyList<string> Errors() => Events()
        .Where(e => e.GetProperty("method").GetString() switch
        {
            "Runtime.consoleAPICalled" => e.GetProperty("params").GetProperty("type").GetString() == "error",
            "Runtime.exceptionThrown" => true,
            "Log.entryAdded" => e.GetProperty("params").GetProperty("entry").GetProperty("level").GetString() == "error",
            _ => false,
        })
        .Select(e => e.GetRawText())
        .ToArray();

    /// <summary>The value of a JavaScript expression evaluated in the page.</summary>
    public JsonElement Evaluate(string expression)
    {
        JsonElement reply = Send("Runtime.evaluate", new { expression, returnByValue = true });
        Assert.False(reply.TryGetProperty("exceptionDetails", out JsonElement failure), failure.ToString());
        return reply.GetProperty("result").GetProperty("value");
    }

    /// <summary>A PNG of the whole page.</summary>
    public byte[] Screenshot() =>
        Convert.FromBase64String(Send("Page.captureScreenshot", new { format = "png", captureBeyondViewport = true }).GetProperty("data").GetString()!);

    private JsonElement[] Events()
    {
        lock (_events)
            return [.. _events];
    }

    private JsonElement Send(string method, object? parameters = null)
    {
        var reply = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        int id;
        lock (_pending)
        {
            id = ++_nextId;
            _pending[id] = reply;
        }
        byte[] message = JsonSerializer.SerializeToUtf8Bytes(new { id, method, @params = parameters ?? new { } });
        _page.SendAsync(message, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None).WaitAsync(s_limit).GetAwaiter().GetResult();
        JsonElement answer = reply.Task.WaitAsync(s_limit).GetAwaiter().GetResult();
        Assert.False(answer.TryGetProperty("error", out JsonElement error), $"{method}: {error}");
        return answer.GetProperty("result");
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[1 << 16];
        var message = new MemoryStream();
        try
        {
            while (_page.State == WebSocketState.Open)
            {
                WebSocketReceiveResult received = await _page.ReceiveAsync(buffer, CancellationToken.None);
                if (received.MessageType == WebSocketMessageType.Close)
                    return;
                message.Write(buffer, 0, received.Count);
                if (!received.EndOfMessage)
                    continue;
                JsonElement parsed = JsonDocument.Parse(message.ToArray()).RootElement.Clone();
                message.SetLength(0);
                if (parsed.TryGetProperty("id", out JsonElement id))
                {
                    TaskCompletionSource<JsonElement>? waiting;
                    lock (_pending)
                        _pending.Remove(id.GetInt32(), out waiting);
                    waiting?.TrySetResult(parsed);
                }
                else
                {
                    lock (_events)
                        _events.Add(parsed);
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The browser went away: Dispose aborted the socket, or a crash the next request reports by timing out.
        }
    }

    public void Dispose()
    {
        // The browser first, whatever else fails: it must not outlive the test.
        _browser.Kill(entireProcessTree: true);
        _browser.WaitForExit(s_limit);
        _browser.Dispose();
        _page.Abort();
        _page.Dispose();
        _receiving.Wait(s_limit);
        Directory.Delete(_profile, recursive: true);
    }

    /// <summary>The share of a PNG's pixels that are not near white: 0 for a blank page.</summary>
    public static double InkedShare(byte[] png)
    {
        using var reader = new BinaryReader(new MemoryStream(png));
        reader.ReadBytes(8);
        int width = 0, height = 0, channels = 0;
        var compressed = new MemoryStream();
        while (reader.BaseStream.Position < reader.BaseStream.Length)
        {
            int length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(reader.ReadBytes(4));
            string type = Encoding.ASCII.GetString(reader.ReadBytes(4));
            byte[] data = reader.ReadBytes(length);
            reader.ReadBytes(4);
            if (type == "IHDR")
            {
                width = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(data);
                height = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(4));
                Assert.Equal(8, data[8]);
                Assert.Equal(0, data[12]);
                channels = data[9] switch { 2 => 3, 6 => 4, _ => throw new InvalidDataException($"PNG colour type {data[9]} is not RGB or RGBA") };
            }
            else if (type == "IDAT")
            {
                compressed.Write(data);
            }
        }
        compressed.Position = 0;
        using var inflated = new ZLibStream(compressed, CompressionMode.Decompress);
        int stride = width * channels;
        byte[] previous = new byte[stride], row = new byte[stride];
        long inked = 0;
        for (int y = 0; y < height; y++)
        {
            int filter = inflated.ReadByte();
            inflated.ReadExactly(row);
            for (int i = 0; i < stride; i++)
            {
                int left = i >= channels ? row[i - channels] : 0, up = previous[i], upLeft = i >= channels ? previous[i - channels] : 0;
                row[i] = (byte)(row[i] + filter switch
                {
                    0 => 0,
                    1 => left,
                    2 => up,
                    3 => (left + up) / 2,
                    4 => Paeth(left, up, upLeft),
                    _ => throw new InvalidDataException($"PNG filter {filter}"),
                });
            }
            for (int x = 0; x < width; x++)
            {
                if (row[x * channels] < 230 || row[x * channels + 1] < 230 || row[x * channels + 2] < 230)
                    inked++;
            }
            (previous, row) = (row, previous);
        }
        return (double)inked / ((long)width * height);
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    [GeneratedRegex(@"DevTools listening on ws://127\.0\.0\.1:(\d+)/")]
    private static partial Regex DevToolsListening();
}
