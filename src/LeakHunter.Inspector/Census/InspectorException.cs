using LeakHunter.Census;

namespace LeakHunter.Inspector.Census;

/// <summary>A failure the inspector reports back to the process under test, with a status it can act on.</summary>
internal sealed class InspectorException(InspectorStatus status, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public InspectorStatus Status { get; } = status;
}
