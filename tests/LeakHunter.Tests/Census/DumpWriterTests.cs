extern alias inspector;

using Xunit;
using DumpWriter = inspector::LeakHunter.Inspector.Census.DumpWriter;
using InspectorException = inspector::LeakHunter.Inspector.Census.InspectorException;
using InspectorProtocol = inspector::LeakHunter.Census.InspectorProtocol;
using InspectorStatus = inspector::LeakHunter.Census.InspectorStatus;

namespace LeakHunter.Tests;

/// <summary>
/// How the inspector runs the runtime's createdump: a missing tool is named, its refusals and failures become statuses
/// with its own words, and a tool that hangs is killed at the time limit. Stand-in tools play createdump's part.
/// </summary>
public sealed class DumpWriterTests : IDisposable
{
    private readonly string _runtimeFolder = Directory.CreateTempSubdirectory("leakhunter-runtime-").FullName;
    private readonly string _dumpPath;

    public DumpWriterTests() => _dumpPath = Path.Combine(_runtimeFolder, "census.dmp");

    [Fact]
    public void AMissingCreatedump_FailsNamingItsPath()
    {
        InspectorException failure = Assert.Throws<InspectorException>(() => Write(TimeSpan.FromMinutes(1)));

        Assert.Equal(InspectorStatus.DumpFailed, failure.Status);
        Assert.Contains(Path.Combine(_runtimeFolder, "createdump"), failure.Message);
    }

    [Fact]
    public void AnUnknownRuntimeFolder_FailsNamingTheVariable()
    {
        InspectorException failure = Assert.Throws<InspectorException>(() =>
            DumpWriter.Write(Environment.ProcessId, _dumpPath, TimeSpan.FromMinutes(1), runtimeFolder: null));

        Assert.Equal(InspectorStatus.DumpFailed, failure.Status);
        Assert.Contains(InspectorProtocol.RuntimeFolderVariable, failure.Message);
    }

    [Fact]
    public void ARefusedTrace_IsPtraceDenied_WithTheToolsWords()
    {
        FakeCreatedump("""
            echo '[createdump] Gathering state for process'
            echo '[createdump] The process or container does not have permissions or access: open(/proc/1/mem) FAILED Permission denied (13)' >&2
            exit 255
            """);

        InspectorException failure = Assert.Throws<InspectorException>(() => Write(TimeSpan.FromMinutes(1)));

        Assert.Equal(InspectorStatus.PtraceDenied, failure.Status);
        Assert.Contains("open(/proc/1/mem) FAILED Permission denied", failure.Message);
        Assert.DoesNotContain("[createdump]", failure.Message);
    }

    [Fact]
    public void AnyOtherFailure_IsDumpFailed_WithTheToolsLastLines()
    {
        FakeCreatedump("""
            echo '[createdump] Writing minidump with heap to file'
            echo '[createdump] write failed: No space left on device (28)' >&2
            exit 1
            """);

        InspectorException failure = Assert.Throws<InspectorException>(() => Write(TimeSpan.FromMinutes(1)));

        Assert.Equal(InspectorStatus.DumpFailed, failure.Status);
        Assert.Contains("exit code 1", failure.Message);
        Assert.Contains("No space left on device", failure.Message);
    }

    [Fact]
    public void ACreatedumpPastTheTimeLimit_IsKilled()
    {
        string pidFile = Path.Combine(_runtimeFolder, "tool.pid");
        FakeCreatedump($"""
            echo $$ > '{pidFile}'
            exec sleep 600
            """);

        InspectorException failure = Assert.Throws<InspectorException>(() => Write(TimeSpan.FromSeconds(2)));

        Assert.Equal(InspectorStatus.DumpFailed, failure.Status);
        Assert.Contains("so it was stopped", failure.Message);
        int toolPid = int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.False(TargetProcess.IsRunning(toolPid), $"createdump stand-in {toolPid} outlived its time limit");
    }

    [Fact]
    public void ASuccessfulDump_ReturnsQuietly()
    {
        FakeCreatedump("""
            echo '[createdump] Dump successfully written'
            exit 0
            """);

        Write(TimeSpan.FromMinutes(1));
    }

    private void Write(TimeSpan timeLimit) => DumpWriter.Write(Environment.ProcessId, _dumpPath, timeLimit, _runtimeFolder);

    private void FakeCreatedump(string body)
    {
        string tool = Path.Combine(_runtimeFolder, "createdump");
        File.WriteAllText(tool, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(tool, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public void Dispose() => Directory.Delete(_runtimeFolder, recursive: true);
}
