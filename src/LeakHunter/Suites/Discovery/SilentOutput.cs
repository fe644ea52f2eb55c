using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.Loader;

namespace LeakHunter.Suites.Discovery;

/// <summary>
/// The test output xunit hands a test's constructor, keeping nothing: a real one buffers every line for the
/// runner's result, which would grow with every run and be blamed on the test.
/// </summary>
internal static class SilentOutput
{
    private static readonly Dictionary<Type, Type> s_implementations = [];

    /// <summary>An instance of the framework's output interface <paramref name="outputInterface"/> whose methods do nothing.</summary>
    public static object For(Type outputInterface)
    {
        Type implementation;
        lock (s_implementations)
        {
            if (!s_implementations.TryGetValue(outputInterface, out implementation!))
                s_implementations[outputInterface] = implementation = Implement(outputInterface);
        }
        return Activator.CreateInstance(implementation)!;
    }

    /// <summary>
    /// A class that implements the interface with methods that return nothing (an empty string where a string is due).
    /// It is emitted in the suite's own load context, so the interface it names is the suite's, not another copy of
    /// the framework another context holds.
    /// </summary>
    private static Type Implement(Type outputInterface)
    {
        AssemblyLoadContext context = AssemblyLoadContext.GetLoadContext(outputInterface.Assembly) ?? AssemblyLoadContext.Default;
        using AssemblyLoadContext.ContextualReflectionScope scope = context.EnterContextualReflection();
        AssemblyBuilder assembly = AssemblyBuilder.DefineDynamicAssembly(new AssemblyName($"LeakHunter.SilentOutput.{Guid.NewGuid():N}"), AssemblyBuilderAccess.Run);
        TypeBuilder type = assembly.DefineDynamicModule("SilentOutput").DefineType("SilentOutput", TypeAttributes.Public | TypeAttributes.Sealed | TypeAttributes.Class);
        type.AddInterfaceImplementation(outputInterface);
        type.DefineDefaultConstructor(MethodAttributes.Public);
        foreach (Type implemented in outputInterface.GetInterfaces().Prepend(outputInterface))
        {
            foreach (MethodInfo method in implemented.GetMethods().Where(m => m.IsAbstract))
            {
                MethodBuilder body = type.DefineMethod(method.Name, MethodAttributes.Public | MethodAttributes.Virtual | MethodAttributes.Final | MethodAttributes.HideBySig | MethodAttributes.NewSlot,
                    method.ReturnType, method.GetParameters().Select(p => p.ParameterType).ToArray());
                ILGenerator il = body.GetILGenerator();
                if (method.ReturnType == typeof(string))
                    il.Emit(OpCodes.Ldstr, "");
                else if (method.ReturnType.IsValueType && method.ReturnType != typeof(void))
                {
                    LocalBuilder none = il.DeclareLocal(method.ReturnType);
                    il.Emit(OpCodes.Ldloca, none);
                    il.Emit(OpCodes.Initobj, method.ReturnType);
                    il.Emit(OpCodes.Ldloc, none);
                }
                else if (method.ReturnType != typeof(void))
                    il.Emit(OpCodes.Ldnull);
                il.Emit(OpCodes.Ret);
                type.DefineMethodOverride(body, method);
            }
        }
        return type.CreateType();
    }
}
