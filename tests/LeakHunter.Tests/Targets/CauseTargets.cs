namespace LeakHunter.Tests.Targets;

// One missing -= keeps four growing types: the event's delegate, its invocation list, the listener and its state.
//   CauseEventWithBuffer.Changed (static event) -> EventHandler -> Object[] -> EventHandler -> Listener -> State
// (A type of its own rather than a byte[]: the test host's other threads make byte[]s at their own pace.)
internal static class CauseEventWithBuffer
{
    public static event EventHandler? Changed;

    public static void Handle()
    {
        var listener = new Listener();
        Changed += listener.OnChanged;
        Changed?.Invoke(null, EventArgs.Empty);
    }

    public static void Unsubscribe()
    {
        var listener = new Listener();
        Changed += listener.OnChanged;
        Changed?.Invoke(null, EventArgs.Empty);
        Changed -= listener.OnChanged;
    }

    public sealed class Listener
    {
        private readonly State _state = new();

        public void OnChanged(object? sender, EventArgs e) => _state.Changes++;
    }

    public sealed class State
    {
        public long Changes;
        public readonly long Created = Environment.TickCount64;
    }
}

// Two leaks in one fragment, two owners: a static list of orders, and a static dictionary of sessions.
internal static class CauseTwoOwners
{
    private static readonly List<Order> s_orders = [];
    private static readonly Dictionary<int, Session> s_sessions = [];
    private static int s_next;

    public static void Handle()
    {
        s_orders.Add(new Order());
        s_sessions[s_next++] = new Session();
    }

    public sealed class Order
    {
        public readonly string Number = "A-1";
    }

    public sealed class Session
    {
        public readonly SessionState State = new();
    }

    public sealed class SessionState
    {
        public readonly long Started = Environment.TickCount64;
    }
}

// Each call keeps a document and its two pages, which nothing else holds: dropping the list's new entries frees 96
// bytes per call (three objects of 32 bytes each on 64 bits).
//   CauseRetained.s_documents (static List) -> Document[] -> Document -> Page
// KeepAndIndex also lists each document in a second static list: dropping either list's entries then frees nothing.
internal static class CauseRetained
{
    private static readonly List<Document> s_documents = [];
    private static readonly List<Document> s_index = [];

    public static void Keep() => s_documents.Add(new Document());

    public static void KeepAndIndex()
    {
        var document = new Document();
        s_documents.Add(document);
        s_index.Add(document);
    }

    public static void Release()
    {
        s_documents.Clear();
        s_documents.TrimExcess();
        s_index.Clear();
        s_index.TrimExcess();
    }

    public sealed class Document
    {
        public readonly Page First = new();
        public readonly Page Second = new();
    }

    public sealed class Page
    {
        public readonly long Number = Environment.TickCount64;
        public readonly long Lines = 40;
    }
}
