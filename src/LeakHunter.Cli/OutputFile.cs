namespace LeakHunter.Cli;

/// <summary>
/// The file given with --output, opened before a command does its work, so a path that cannot be written fails at
/// once rather than after a long watch. Its old content stays until the result replaces it, so a census file can be
/// both an input of <c>diff</c> and its output; a file created for a command that then failed is removed.
/// </summary>
internal sealed class OutputFile : IDisposable
{
    private readonly FileStream _stream;
    private readonly bool _created;
    private bool _written;

    private OutputFile(FileStream stream, bool created)
    {
        _stream = stream;
        _created = created;
    }

    public static OutputFile? Open(FileInfo? file)
    {
        if (file is null)
            return null;
        if (Directory.Exists(file.FullName))
            throw new CliException($"--output {file.FullName} is a folder. Give the path of a file.");
        bool existed = File.Exists(file.FullName);
        try
        {
            return new OutputFile(new FileStream(file.FullName, FileMode.OpenOrCreate, FileAccess.Write), created: !existed);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"--output {file.FullName} cannot be written ({e.Message}). Give a path in a folder you can write to.");
        }
    }

    public void Write(string text)
    {
        _stream.SetLength(0);
        using var writer = new StreamWriter(_stream, leaveOpen: true);
        writer.Write(text);
        _written = true;
    }

    public void Dispose()
    {
        _stream.Dispose();
        if (_created && !_written)
            File.Delete(_stream.Name);
    }
}
