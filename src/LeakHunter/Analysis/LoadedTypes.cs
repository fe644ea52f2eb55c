using System.Collections.Concurrent;
using System.Reflection;

namespace LeakHunter.Analysis;

/// <summary>
/// The process's own types, found by the names the inspector gives them (<c>Acme.Outer+Inner</c>,
/// <c>Acme.Cache&lt;System.String&gt;</c>): a check's report is built in the process under test, where every type on
/// its paths is loaded, so what a type is (its base types, its public methods) is asked of the type itself. A generic
/// type is found as its definition. Null where no loaded assembly has it (a watch of another process).
/// </summary>
internal static class LoadedTypes
{
    private static readonly ConcurrentDictionary<string, Type?> s_found = new(StringComparer.Ordinal);

    public static Type? Find(string name) => s_found.GetOrAdd(name, Lookup);

    /// <summary>Whether the type named <paramref name="name"/> is <paramref name="type"/>, derives from it, or implements it.</summary>
    public static bool Is(string name, Type type) =>
        Find(name) is { } found && (found == type || type.IsAssignableFrom(found) || (type.IsGenericTypeDefinition && Derives(found, type)));

    private static bool Derives(Type found, Type definition)
    {
        for (Type? t = found; t is not null; t = t.BaseType)
        {
            if (t.IsGenericType && t.GetGenericTypeDefinition() == definition)
                return true;
        }
        return false;
    }

    private static Type? Lookup(string name)
    {
        string? reflectionName = ReflectionName(name);
        if (reflectionName is null)
            return null;
        foreach (Assembly assembly in AppDomain.CurrentDomain.GetAssemblies())
        {
            try
            {
                if (assembly.GetType(reflectionName, throwOnError: false) is { } type)
                    return type;
            }
            catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException or TypeLoadException)
            {
                // An assembly whose types cannot load has nothing to say of this one.
            }
        }
        return null;
    }

    /// <summary>"Acme.Cache`1" for "Acme.Cache&lt;System.String&gt;"; nested types keep their '+'. Null for arrays.</summary>
    private static string? ReflectionName(string name)
    {
        if (name.EndsWith(']'))
            return null;
        var result = new System.Text.StringBuilder();
        int depth = 0, arguments = 0;
        foreach (char c in name)
        {
            if (c == '<')
            {
                if (depth++ == 0)
                    arguments = 1;
            }
            else if (c == '>')
            {
                if (--depth == 0)
                    result.Append('`').Append(arguments);
            }
            else if (depth == 0)
            {
                result.Append(c);
            }
            else if (c == ',' && depth == 1)
            {
                arguments++;
            }
        }
        return result.ToString();
    }
}
