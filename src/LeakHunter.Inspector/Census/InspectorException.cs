using LeakHunter.Census;

namespace LeakHunter.Inspector.Census;

/// <summary>A failure the inspector reports back to the process under test, with a status it can act on.</summary>
internal sealed class InspectorException(InspectorStatus status, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public InspectorStatus Status { get; } = status;
}

/// <summary>
/// An image of the process would not fit in what the inspector may take: nothing was copied, and the process was not
/// held. An explanation says so as what it left out.
/// </summary>
internal sealed class ImageTooLargeException(string message) : Exception(message);
