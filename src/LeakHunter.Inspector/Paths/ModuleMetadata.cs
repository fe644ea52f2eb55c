using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Paths;

/// <summary>
/// A type's methods as its assembly's metadata declares them, read from the module's file: the runtime's own method
/// list holds only the methods it has prepared. Null where the module has no file (an assembly loaded from bytes, or
/// generated), or the file cannot be read.
/// </summary>
internal static class ModuleMetadata
{
    private static readonly Dictionary<string, (PEReader Pe, MetadataReader Reader)?> s_readers = new(StringComparer.Ordinal);

    /// <summary>The public methods <paramref name="type"/> declares, and its explicit interface implementations, by name.</summary>
    public static IEnumerable<string>? PublicMethodNames(ClrType type)
    {
        if (type.Module?.Name is not { } path || type.MetadataToken == 0 || Reader(path) is not { } reader)
            return null;
        var handle = (TypeDefinitionHandle)MetadataTokens.EntityHandle(type.MetadataToken);
        var names = new List<string>();
        foreach (MethodDefinitionHandle methodHandle in reader.GetTypeDefinition(handle).GetMethods())
        {
            MethodDefinition method = reader.GetMethodDefinition(methodHandle);
            string name = reader.GetString(method.Name);
            bool isPublic = (method.Attributes & MethodAttributes.MemberAccessMask) == MethodAttributes.Public;
            // An explicit implementation is private and named for its interface: System.IDisposable.Dispose.
            if (isPublic || name.Contains('.', StringComparison.Ordinal) && !name.StartsWith('.'))
                names.Add(name);
        }
        return names;
    }

    private static MetadataReader? Reader(string path)
    {
        lock (s_readers)
        {
            if (!s_readers.TryGetValue(path, out (PEReader Pe, MetadataReader Reader)? entry))
            {
                entry = null;
                try
                {
                    if (File.Exists(path))
                    {
                        var pe = new PEReader(File.OpenRead(path));
                        entry = pe.HasMetadata ? (pe, pe.GetMetadataReader()) : null;
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or BadImageFormatException or InvalidOperationException)
                {
                    entry = null;
                }
                s_readers[path] = entry;
            }
            return entry?.Reader;
        }
    }
}
