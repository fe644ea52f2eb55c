namespace LeakHunter.Census;

/// <summary>
/// A folder only this user can enter (0700), for dumps of this process. A dump holds every secret in memory, so
/// each one is deleted as soon as its census is read, the folder when the inspector stops, and both at process exit.
/// </summary>
internal sealed class PrivateDumpFolder : IDisposable
{
    private readonly object _gate = new();
    private DirectoryInfo? _folder;

    public string PathFor(int censusId)
    {
        lock (_gate)
        {
            if (_folder is null)
            {
                _folder = Directory.CreateTempSubdirectory("leakhunter-");
                if (!OperatingSystem.IsWindows())
                    _folder.UnixFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
                AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
            }
            return Path.Combine(_folder.FullName, $"census-{censusId}.dmp");
        }
    }

    public static void Delete(string dumpPath)
    {
        try
        {
            File.Delete(dumpPath);
        }
        catch (IOException)
        {
            // Deleted again when the folder goes.
        }
    }

    private void OnProcessExit(object? sender, EventArgs e) => Dispose();

    public void Dispose()
    {
        lock (_gate)
        {
            if (_folder is null)
                return;
            try
            {
                _folder.Delete(recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
            AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
            _folder = null;
        }
    }
}
