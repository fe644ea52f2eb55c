using System.Collections;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace LeakHunter.Suites.Discovery;

/// <summary>
/// Reads test frameworks' attributes by their names, never by their types: the suite's framework is loaded in its own
/// context, in whatever version the suite uses, and LeakHunter references none of them.
/// </summary>
internal static class TestReflection
{
    /// <summary>The attributes on <paramref name="member"/> whose type, or a base type of it, has one of <paramref name="fullNames"/>.</summary>
    public static IEnumerable<CustomAttributeData> Attributes(MemberInfo member, params string[] fullNames) =>
        member.GetCustomAttributesData().Where(a => Is(a.AttributeType, fullNames));

    /// <summary>The attributes on <paramref name="assembly"/> of one of <paramref name="fullNames"/>.</summary>
    public static IEnumerable<CustomAttributeData> Attributes(Assembly assembly, params string[] fullNames) =>
        assembly.GetCustomAttributesData().Where(a => Is(a.AttributeType, fullNames));

    /// <summary>Whether <paramref name="type"/> or a base type of it has one of <paramref name="fullNames"/>.</summary>
    public static bool Is(Type? type, params string[] fullNames)
    {
        for (; type is not null; type = type.BaseType)
        {
            if (fullNames.Contains(type.FullName, StringComparer.Ordinal))
                return true;
        }
        return false;
    }

    /// <summary>Whether <paramref name="type"/> implements the interface named <paramref name="fullName"/> (generic ones by their open name).</summary>
    public static bool Implements(Type type, string fullName) => Interfaces(type, fullName).Any();

    /// <summary>The interfaces of <paramref name="type"/> named <paramref name="fullName"/>: <c>Xunit.IClassFixture`1</c> gives each closed one.</summary>
    public static IEnumerable<Type> Interfaces(Type type, string fullName) =>
        type.GetInterfaces().Where(i => (i.IsGenericType ? i.GetGenericTypeDefinition().FullName : i.FullName) == fullName);

    /// <summary>A named argument of an attribute, or null.</summary>
    public static object? Named(CustomAttributeData attribute, string name) =>
        attribute.NamedArguments.Where(a => a.MemberName == name).Select(a => Value(a.TypedValue)).FirstOrDefault();

    /// <summary>The attribute's constructor arguments, with a trailing <c>params</c> array spread out, as its framework reads them.</summary>
    public static object?[] ConstructorValues(CustomAttributeData attribute)
    {
        var values = attribute.ConstructorArguments.Select(Value).ToList();
        ParameterInfo[] parameters = attribute.Constructor.GetParameters();
        if (values.Count == 1 && parameters.Length == 1 && parameters[0].GetCustomAttribute<ParamArrayAttribute>() is not null && values[0] is object?[] spread)
            return spread;
        if (values.Count == 1 && values[0] is null && parameters.Length == 1 && parameters[0].ParameterType.IsArray)
            return [null];
        return [.. values];
    }

    /// <summary>An attribute argument as a value: arrays as arrays, enums and types as themselves.</summary>
    public static object? Value(CustomAttributeTypedArgument argument)
    {
        if (argument.Value is ReadOnlyCollection<CustomAttributeTypedArgument> items)
        {
            Type element = argument.ArgumentType.GetElementType() ?? typeof(object);
            var array = Array.CreateInstance(element == typeof(object) ? typeof(object) : element, items.Count);
            for (int i = 0; i < items.Count; i++)
                array.SetValue(Value(items[i]), i);
            return array;
        }
        if (argument.ArgumentType.IsEnum && argument.Value is not null)
            return Enum.ToObject(argument.ArgumentType, argument.Value);
        return argument.Value;
    }

    /// <summary>
    /// The rows a data source gives: a static property, field or method of <paramref name="type"/> (or a base type)
    /// named <paramref name="member"/>, each row an array, a theory row with its data, a tuple, or one value.
    /// </summary>
    public static IEnumerable<object?[]> SourceRows(Type type, string member, object?[]? parameters = null)
    {
        const BindingFlags Static = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.FlattenHierarchy;
        object? source = type.GetProperty(member, Static)?.GetValue(null)
            ?? type.GetField(member, Static)?.GetValue(null)
            ?? (type.GetMethods(Static).FirstOrDefault(m => m.Name == member && m.GetParameters().Length == (parameters?.Length ?? 0)) is { } method
                ? Await(method.Invoke(null, parameters))
                : throw new InvalidOperationException($"{type.FullName} has no static property, field or method named '{member}' to give the test's rows."));
        if (source is not IEnumerable rows)
            throw new InvalidOperationException($"{type.FullName}.{member} is not a sequence of rows.");
        foreach (object? row in rows)
            yield return Row(row);
    }

    /// <summary>One data row as its values.</summary>
    public static object?[] Row(object? row)
    {
        if (row is object?[] values)
            return values;
        // A theory row (xunit v3's ITheoryDataRow, MSTest's and NUnit's test case data) hands its values to GetData or Arguments.
        Type? type = row?.GetType();
        MethodInfo? getData = type?.GetMethod("GetData", Type.EmptyTypes)
            ?? type?.GetInterfaces().Select(i => i.GetMethod("GetData", Type.EmptyTypes)).FirstOrDefault(m => m is not null);
        if (getData?.Invoke(row, null) is object?[] data)
            return data;
        if (type?.GetProperty("Arguments") is { } arguments && arguments.GetValue(row) is object?[] args)
            return args;
        if (row is ITuple tuple)
            return Enumerable.Range(0, tuple.Length).Select(i => tuple[i]).ToArray();
        return [row];
    }

    /// <summary>
    /// The row's values converted to the method's parameters, as the frameworks do: numbers widened, strings to
    /// enums and dates, optional parameters filled, a <c>params</c> tail gathered.
    /// </summary>
    public static object?[] Bind(MethodInfo method, object?[] values)
    {
        ParameterInfo[] parameters = method.GetParameters();
        var bound = new object?[parameters.Length];
        for (int i = 0; i < parameters.Length; i++)
        {
            ParameterInfo parameter = parameters[i];
            if (i == parameters.Length - 1 && parameter.GetCustomAttribute<ParamArrayAttribute>() is not null && !(values.Length == parameters.Length && values[i] is Array))
            {
                Type element = parameter.ParameterType.GetElementType()!;
                object?[] rest = values.Skip(i).ToArray();
                var array = Array.CreateInstance(element, rest.Length);
                for (int r = 0; r < rest.Length; r++)
                    array.SetValue(Convert(rest[r], element), r);
                bound[i] = array;
                return bound;
            }
            if (i < values.Length)
                bound[i] = Convert(values[i], parameter.ParameterType);
            else if (parameter.HasDefaultValue)
                bound[i] = parameter.DefaultValue;
            else
                throw new InvalidOperationException($"The row has {values.Length} values, but {method.Name} takes {parameters.Length}.");
        }
        if (values.Length > parameters.Length)
            throw new InvalidOperationException($"The row has {values.Length} values, but {method.Name} takes {parameters.Length}.");
        return bound;
    }

    private static object? Convert(object? value, Type type)
    {
        Type target = Nullable.GetUnderlyingType(type) ?? type;
        if (value is null || target.IsInstanceOfType(value))
            return value;
        if (target.IsEnum)
            return value is string name ? Enum.Parse(target, name) : Enum.ToObject(target, value);
        if (target == typeof(Guid) && value is string guid)
            return Guid.Parse(guid);
        if (target == typeof(DateTimeOffset) && value is string offset)
            return DateTimeOffset.Parse(offset, CultureInfo.InvariantCulture);
        if (target == typeof(TimeSpan) && value is string span)
            return TimeSpan.Parse(span, CultureInfo.InvariantCulture);
        if (value is IConvertible && typeof(IConvertible).IsAssignableFrom(target))
            return System.Convert.ChangeType(value, target, CultureInfo.InvariantCulture);
        return value;
    }

    /// <summary>The test's name: <c>Namespace.Class.Method</c>, and the row's arguments by parameter name, as xunit shows them.</summary>
    public static string Name(Type type, MethodInfo method, IReadOnlyList<object?>? arguments)
    {
        string name = $"{type.FullName}.{method.Name}";
        if (arguments is null)
            return name;
        ParameterInfo[] parameters = method.GetParameters();
        return $"{name}({string.Join(", ", arguments.Select((a, i) => $"{(i < parameters.Length ? parameters[i].Name : $"p{i}")}: {Show(a)}"))})";
    }

    private static string Show(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        char c => $"'{c}'",
        bool b => b ? "true" : "false",
        Array array => $"[{string.Join(", ", array.Cast<object?>().Select(Show))}]",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? value.GetType().Name,
    };

    /// <summary>Calls <paramref name="method"/> and awaits what it returns, if it is awaitable; the method's own exception is rethrown as it is.</summary>
    public static async Task InvokeAsync(MethodInfo method, object? instance, object?[]? arguments)
    {
        object? returned;
        try
        {
            returned = method.Invoke(instance, arguments);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
        await AwaitAsync(returned).ConfigureAwait(false);
    }

    /// <summary>Awaits a Task or a ValueTask (of any result); anything else is done already.</summary>
    public static Task AwaitAsync(object? returned) => returned switch
    {
        Task task => task,
        ValueTask valueTask => valueTask.AsTask(),
        // A ValueTask<T> is awaited through its AsTask, found by name as T is not known here.
        { } other when other.GetType().IsGenericType && other.GetType().GetGenericTypeDefinition() == typeof(ValueTask<>) =>
            (Task)other.GetType().GetMethod(nameof(ValueTask<int>.AsTask))!.Invoke(other, null)!,
        _ => Task.CompletedTask,
    };

    private static object? Await(object? returned)
    {
        if (returned is Task task)
        {
            task.GetAwaiter().GetResult();
            return task.GetType().GetProperty("Result")?.GetValue(task);
        }
        return returned;
    }

    /// <summary>Disposes <paramref name="instance"/> as the frameworks do: DisposeAsync first, then Dispose.</summary>
    public static async Task DisposeAsync(object? instance)
    {
        if (instance is IAsyncDisposable asyncDisposable)
            await asyncDisposable.DisposeAsync().ConfigureAwait(false);
        if (instance is IDisposable disposable)
            disposable.Dispose();
    }

    /// <summary>Creates <paramref name="type"/> with <paramref name="arguments"/>; the constructor's own exception is rethrown as it is.</summary>
    public static object Create(Type type, object?[] arguments)
    {
        try
        {
            return Activator.CreateInstance(type, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance, null, arguments, CultureInfo.InvariantCulture)!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }

    /// <summary>The methods of <paramref name="type"/> and its base types with one of the attributes, base class first, as the frameworks run set-ups.</summary>
    public static IReadOnlyList<MethodInfo> MethodsWith(Type type, params string[] attributes)
    {
        var chain = new List<Type>();
        for (Type? t = type; t is not null && t != typeof(object); t = t.BaseType)
            chain.Insert(0, t);
        const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        return chain.SelectMany(t => t.GetMethods(Declared)).Where(m => Attributes(m, attributes).Any()).ToList();
    }
}
