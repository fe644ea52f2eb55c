using System.Collections.Immutable;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Runtime.InteropServices;
using Microsoft.Diagnostics.Runtime;

namespace LeakHunter.Inspector.Paths;

/// <summary>
/// The declared type of an open generic type's static field, decoded from the module's own metadata in the target's
/// memory: <c>Registry&lt;T&gt;.s_items</c> declared as <c>List&lt;T&gt;</c> reads <c>System.Collections.Generic.List&lt;!0&gt;</c>,
/// where <c>!0</c> is the containing type's first type parameter. ClrMD's field type is no substitute: it resolves a
/// generic instantiation by looking up loaded types by name, so the same field came back as <c>List&lt;T&gt;</c>, as a
/// closed instantiation or as nothing, depending on what the process had loaded.
/// </summary>
internal static class DeclaredFieldTypes
{
    /// <summary>The token of the containing type's type parameter <paramref name="index"/> in a declared name.</summary>
    public static string Parameter(int index) => $"!{index}";

    /// <summary>
    /// The field's declared type, spelled the way ClrMD spells a loaded type's name, with <see cref="Parameter"/>
    /// tokens for the containing type's parameters; null when the module's metadata cannot be read (a dynamic module).
    /// </summary>
    public static string? Of(ClrRuntime runtime, ClrStaticField field)
    {
        MetadataReader? reader = ReaderOf(runtime, field.ContainingType.Module);
        if (reader is null)
            return null;
        try
        {
            FieldDefinition definition = reader.GetFieldDefinition(MetadataTokens.FieldDefinitionHandle(field.Token & 0xFFFFFF));
            return definition.DecodeSignature(new NameProvider(reader), genericContext: null);
        }
        catch (BadImageFormatException)
        {
            return null;
        }
    }

    // A module's metadata never changes while it is loaded, and a module outside a collectible context never unloads:
    // each is read from the target once for the inspector's life. The bytes are kept with their reader, which only
    // holds a pointer into them: a pinned array nothing refers to is collected like any other.
    private static readonly Dictionary<(int Process, ulong Module), (MetadataReader Reader, byte[] Bytes)?> s_metadata = new();

    private static MetadataReader? ReaderOf(ClrRuntime runtime, ClrModule module)
    {
        var key = (runtime.DataTarget.DataReader.ProcessId, module.Address);
        lock (s_metadata)
        {
            if (!s_metadata.TryGetValue(key, out var metadata))
                s_metadata[key] = metadata = Read(runtime, module);
            return metadata?.Reader;
        }
    }

    private static unsafe (MetadataReader Reader, byte[] Bytes)? Read(ClrRuntime runtime, ClrModule module)
    {
        if (module.MetadataAddress == 0 || module.MetadataLength is 0 or > int.MaxValue)
            return null;
        byte[] bytes = GC.AllocateUninitializedArray<byte>((int)module.MetadataLength, pinned: true);
        if (runtime.DataTarget.DataReader.Read(module.MetadataAddress, bytes) != bytes.Length)
            return null;
        try
        {
            return (new MetadataReader((byte*)Marshal.UnsafeAddrOfPinnedArrayElement(bytes, 0), bytes.Length), bytes);
        }
        catch (BadImageFormatException)
        {
            return null;
        }
    }

    /// <summary>Spells a signature's types as ClrMD names loaded types: namespace, nested types after '+', arguments in angle brackets.</summary>
    private sealed class NameProvider(MetadataReader reader) : ISignatureTypeProvider<string, object?>
    {
        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode switch
        {
            PrimitiveTypeCode.Object => "System.Object",
            PrimitiveTypeCode.String => "System.String",
            PrimitiveTypeCode.TypedReference => "System.TypedReference",
            PrimitiveTypeCode.IntPtr => "System.IntPtr",
            PrimitiveTypeCode.UIntPtr => "System.UIntPtr",
            _ => "System." + typeCode,
        };

        public string GetTypeFromDefinition(MetadataReader _, TypeDefinitionHandle handle, byte rawTypeKind)
        {
            TypeDefinition type = reader.GetTypeDefinition(handle);
            string name = reader.GetString(type.Name);
            TypeDefinitionHandle outer = type.GetDeclaringType();
            return outer.IsNil
                ? Qualified(reader.GetString(type.Namespace), name)
                : $"{GetTypeFromDefinition(reader, outer, rawTypeKind)}+{name}";
        }

        public string GetTypeFromReference(MetadataReader _, TypeReferenceHandle handle, byte rawTypeKind)
        {
            TypeReference type = reader.GetTypeReference(handle);
            string name = reader.GetString(type.Name);
            return type.ResolutionScope.Kind == HandleKind.TypeReference
                ? $"{GetTypeFromReference(reader, (TypeReferenceHandle)type.ResolutionScope, rawTypeKind)}+{name}"
                : Qualified(reader.GetString(type.Namespace), name);
        }

        public string GetTypeFromSpecification(MetadataReader _, object? context, TypeSpecificationHandle handle, byte rawTypeKind) =>
            reader.GetTypeSpecification(handle).DecodeSignature(this, context);

        // Metadata names a generic type with its arity (Dictionary`2+Entry) and lists the arguments of every enclosing
        // type in one list; each level takes as many as its arity, as in Dictionary<!0, !1>+Entry.
        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments)
        {
            int next = 0;
            var levels = genericType.Split('+').Select(level =>
            {
                int tick = level.IndexOf('`');
                if (tick < 0 || !int.TryParse(level.AsSpan(tick + 1), out int arity))
                    return level;
                string arguments = string.Join(", ", typeArguments.Skip(next).Take(arity));
                next += arity;
                return $"{level[..tick]}<{arguments}>";
            });
            return string.Join('+', levels);
        }

        public string GetGenericTypeParameter(object? context, int index) => Parameter(index);

        // A static field's type cannot mention a method's parameters; spelled apart so it can never match a value.
        public string GetGenericMethodParameter(object? context, int index) => $"!!{index}";

        public string GetSZArrayType(string elementType) => elementType + "[]";

        public string GetArrayType(string elementType, ArrayShape shape) => $"{elementType}[{new string(',', shape.Rank - 1)}]";

        public string GetPointerType(string elementType) => elementType + "*";

        public string GetByReferenceType(string elementType) => elementType + "&";

        public string GetPinnedType(string elementType) => elementType;

        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;

        public string GetFunctionPointerType(MethodSignature<string> signature) => "System.IntPtr";

        private static string Qualified(string ns, string name) => ns.Length == 0 ? name : $"{ns}.{name}";
    }
}
