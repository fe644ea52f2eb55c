namespace LeakHunter.TestPlugin;

/// <summary>What a plugin keeps per start: state its shutdown handler flushes when the process exits.</summary>
public sealed class ShutdownFlusher
{
    private readonly byte[] _pending = new byte[64];

    public void OnProcessExit(object? sender, EventArgs e) => _pending[0] = 0;
}

/// <summary>The plugin's entry points, called by reflection from the host that loaded it.</summary>
public static class PluginEntry
{
    private static ShutdownFlusher? s_flusher;

    /// <summary>Hooks process exit, as many plugins do to flush their state.</summary>
    public static void Start()
    {
        s_flusher = new ShutdownFlusher();
        AppDomain.CurrentDomain.ProcessExit += s_flusher.OnProcessExit;
    }

    /// <summary>Unhooks process exit, so the plugin's context can unload.</summary>
    public static void Stop()
    {
        if (s_flusher is not null)
            AppDomain.CurrentDomain.ProcessExit -= s_flusher.OnProcessExit;
        s_flusher = null;
    }
}
