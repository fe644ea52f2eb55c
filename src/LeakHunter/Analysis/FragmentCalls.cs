using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;

namespace LeakHunter.Analysis;

/// <summary>One call the code a check runs makes: what it calls, and the method of the user's code that calls it.</summary>
/// <param name="Type">The called method's declaring type, as ClrMD spells types (<c>NLog.LogManager</c>).</param>
/// <param name="Method">The called method's name.</param>
/// <param name="Caller">The user's method that makes the call, as <c>Type.Method</c> in short names.</param>
/// <param name="IntoUserCode">Whether the called method is the user's own code (the fragment's assembly).</param>
internal sealed record FragmentCall(string Type, string Method, string Caller, bool IntoUserCode)
{
    /// <summary>
    /// What the call gives the user's code that it must release: the type a constructor makes, or the one a method
    /// returns, where that type has a release method (<see cref="Releaser"/>); null otherwise.
    /// </summary>
    public Type? Made { get; init; }

    /// <summary>The release method of <see cref="Made"/>: Dispose, DisposeAsync, Shutdown, Stop or Close.</summary>
    public string? Releaser { get; init; }

    /// <summary>
    /// The object the call works on: an instance method's type, or an extension method's first parameter's; null for
    /// a static method and a constructor.
    /// </summary>
    public Type? Receiver { get; init; }

    /// <summary>Whether the call gives back a string, a number or an enum: most often an argument of another call.</summary>
    public bool GivesPlainValue { get; init; }
}

/// <summary>
/// The calls a check's fragment makes, read from its IL, and from the IL of the user's own methods it calls (its
/// assembly's), a few levels down: the calls out of the user's code are the public calls that can fill a library's
/// collection. An async method is read in its state machine, where its code is.
/// </summary>
internal static class FragmentCalls
{
    // Levels of the user's own methods read below the fragment: enough for a lambda that calls a helper that calls the library.
    private const int MaxDepth = 3;
    private const int MaxCalls = 200;

    private static readonly Dictionary<short, OpCode> s_opCodes = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    /// <summary>The calls of the delegate's method, in the order its IL makes them; none where its IL cannot be read.</summary>
    public static IReadOnlyList<FragmentCall> Of(Delegate code) => Of(code.Method);

    /// <summary>The calls of <paramref name="code"/>, in the order its IL makes them; none where its IL cannot be read.</summary>
    public static IReadOnlyList<FragmentCall> Of(MethodBase code)
    {
        var calls = new List<FragmentCall>();
        try
        {
            Read(code, code.Module.Assembly, 0, calls, new HashSet<MethodBase>());
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or BadImageFormatException or MemberAccessException)
        {
            // A dynamic method, or IL this reader does not know: the report names no call.
        }
        return calls;
    }

    private static void Read(MethodBase method, Assembly user, int depth, List<FragmentCall> calls, HashSet<MethodBase> read)
    {
        if (depth > MaxDepth || calls.Count >= MaxCalls || !read.Add(method))
            return;
        MethodBase body = StateMachineStep(method) ?? method;
        byte[]? il = body.GetMethodBody()?.GetILAsByteArray();
        if (il is null)
            return;
        string caller = Describe(method);
        for (int at = 0; at < il.Length && calls.Count < MaxCalls;)
        {
            short value = il[at] == 0xFE && at + 1 < il.Length ? (short)(0xFE00 | il[at + 1]) : il[at];
            if (!s_opCodes.TryGetValue(value, out OpCode op))
                return;
            at += op.Size;
            if ((op == OpCodes.Call || op == OpCodes.Callvirt || op == OpCodes.Newobj) && at + 4 <= il.Length
                && Resolve(body, BitConverter.ToInt32(il, at)) is { DeclaringType: { } declaring } callee)
            {
                bool intoUser = callee.Module.Assembly == user;
                if (!IsCompilerMade(declaring) || !intoUser)
                {
                    Type? made = Awaited(callee is ConstructorInfo ? declaring : (callee as MethodInfo)?.ReturnType);
                    string? releaser = made is null || intoUser ? null : ReleaserOf(made);
                    calls.Add(new FragmentCall(TypeName(declaring), callee.Name, caller, intoUser)
                    {
                        Made = releaser is null ? null : made,
                        Releaser = releaser,
                        Receiver = intoUser ? null : ReceiverOf(callee),
                        GivesPlainValue = made is { } given && (given == typeof(string) || given.IsPrimitive || given.IsEnum),
                    });
                }
                if (intoUser)
                    Read(callee, user, depth + 1, calls, read);
            }
            at += OperandSize(op, il, at);
        }
    }

    // The methods that release what a library hands out, in the order they are named.
    private static readonly string[] s_releasers = ["Dispose", "DisposeAsync", "Shutdown", "Stop", "Close"];

    private static Type? ReceiverOf(MethodBase callee) =>
        callee is ConstructorInfo ? null
        : !callee.IsStatic ? callee.DeclaringType
        : callee.IsDefined(typeof(ExtensionAttribute), inherit: false) && callee.GetParameters() is [var self, ..] ? self.ParameterType
        : null;

    /// <summary>What a call gives back once awaited: <c>Task&lt;T&gt;</c> and <c>ValueTask&lt;T&gt;</c> give a <c>T</c>.</summary>
    private static Type? Awaited(Type? type) =>
        type is { IsGenericType: true } && type.GetGenericTypeDefinition() is var definition && (definition == typeof(Task<>) || definition == typeof(ValueTask<>))
            ? type.GetGenericArguments()[0]
            : type;

    /// <summary>The public parameterless method of <paramref name="type"/> that releases it, or null.</summary>
    public static string? ReleaserOf(Type type)
    {
        if (type.IsPrimitive || type == typeof(string) || type == typeof(void) || type.IsValueType)
            return null;
        const BindingFlags PublicInstance = BindingFlags.Public | BindingFlags.Instance;
        return s_releasers.FirstOrDefault(name => type.GetMethod(name, PublicInstance, Type.EmptyTypes) is not null
            || type.GetInterfaces().Any(i => i.GetMethod(name, PublicInstance, Type.EmptyTypes) is not null));
    }

    private static MethodBase? Resolve(MethodBase body, int token)
    {
        try
        {
            Type[]? typeArguments = body.DeclaringType is { IsGenericType: true } type ? type.GetGenericArguments() : null;
            Type[]? methodArguments = body.IsGenericMethod ? body.GetGenericArguments() : null;
            return body.Module.ResolveMethod(token, typeArguments, methodArguments);
        }
        catch (Exception e) when (e is ArgumentException or BadImageFormatException or TypeLoadException or MissingMemberException)
        {
            return null;
        }
    }

    /// <summary>An async or iterator method's code lives in its state machine's MoveNext.</summary>
    private static MethodInfo? StateMachineStep(MethodBase method) =>
        method.GetCustomAttribute<StateMachineAttribute>()?.StateMachineType.GetMethod("MoveNext", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);

    private static bool IsCompilerMade(Type type) =>
        type.IsDefined(typeof(CompilerGeneratedAttribute), inherit: false) || type.Name.StartsWith('<');

    private static int OperandSize(OpCode op, byte[] il, int at) => op.OperandType switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, at),
        _ => 4,
    };

    /// <summary>A type as ClrMD spells it: <c>Outer+Inner</c>, generic arguments in angle brackets.</summary>
    public static string TypeName(Type type)
    {
        string name = type.IsGenericType ? type.GetGenericTypeDefinition().FullName ?? type.Name : type.FullName ?? type.Name;
        int tick = name.IndexOf('`', StringComparison.Ordinal);
        if (tick >= 0)
            name = name[..tick];
        return type.IsConstructedGenericType ? $"{name}<{string.Join(", ", type.GetGenericArguments().Select(TypeName))}>" : name;
    }

    /// <summary>"IdiomCases.Leak": the user's method as a reader names it; a lambda by the method it was written in.</summary>
    private static string Describe(MethodBase method)
    {
        Type? type = method.DeclaringType;
        while (type is not null && IsCompilerMade(type) && type.DeclaringType is not null)
            type = type.DeclaringType;
        string name = method.Name.StartsWith('<') && method.Name.IndexOf('>') is int close and > 1 ? method.Name[1..close] : method.Name;
        return type is null ? name : $"{Reports.TypeNames.Short(TypeName(type))}.{name}";
    }
}
