using System.Diagnostics;
using System.Reflection;
using System.Reflection.Emit;
using AkkaL4.Actors;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Node.Cli;

namespace AkkaL4.Tests.Support;

/// <summary>
/// A class marked <see cref="TestCategories.TransportNamed"/> is left out of CI's stock-transport pass, so it must not reach
/// what <c>AKKAL4_TRANSPORT</c> decides: a node (<see cref="RouterNode"/>), the setting (<see cref="DataPlaneSettings.From"/>),
/// a process (which inherits the variable), the variable by name or <see cref="OwnTransportFact"/>. Read from the compiled code: every call its
/// methods make (their async state machines and lambdas too), followed through the test assembly's own helpers and into the
/// product's assemblies, so that a src helper that reads the setting counts too (review1-s18 R5). Any environment variable
/// read by the tests' code counts (its name may be computed); in the product only the transport's, by name.
/// </summary>
/// <remarks>
/// What it cannot see: a call made through an interface, a virtual method or a delegate handed in from elsewhere reaches
/// the body the IL names (none for an interface), not the one that runs; an actor made from <c>Props.Create(() =&gt; new X())</c>
/// is an expression tree, and X's constructor is not followed; nor is reflection. The setting is read in two places today
/// (<see cref="RouterNode"/> and the <c>run</c> command), both reached by direct calls.
/// </remarks>
[Trait("Category", "Unit")]
public sealed class TransportTraitTests
{
    private static readonly Assembly Tests = typeof(TransportTraitTests).Assembly;

    [Fact]
    public void A_class_left_out_of_the_stock_transport_pass_reaches_no_node_no_process_and_not_the_setting()
    {
        var named = Tests.GetTypes().Where(t => t.GetCustomAttributesData().Any(a => a.AttributeType == typeof(TraitAttribute)
            && (string?)a.ConstructorArguments[0].Value == TestCategories.TransportTrait)).ToList();
        Assert.NotEmpty(named);

        var wrong = new List<string>();
        foreach (var type in named)
        {
            var value = type.GetCustomAttributesData().First(a => a.AttributeType == typeof(TraitAttribute)
                && (string?)a.ConstructorArguments[0].Value == TestCategories.TransportTrait).ConstructorArguments[1].Value;
            if (!Equals(value, TestCategories.TransportNamed)) wrong.Add($"{type.FullName}: {TestCategories.TransportTrait}={value} (only {TestCategories.TransportNamed} is known)");
            else if (Reaches(type) is { } path) wrong.Add($"{type.FullName} reaches {path}");
        }
        Assert.True(wrong.Count == 0,
            $"classes marked {TestCategories.TransportTrait}={TestCategories.TransportNamed} whose outcome AKKAL4_TRANSPORT can change "
            + $"(take the trait off, so CI runs them on the stock transport too):\n{string.Join("\n", wrong)}");
    }

    [Fact]
    public void The_check_follows_lambdas_and_async_helpers_of_other_classes()
    {
        Assert.Contains($"{nameof(RouterNode)}.{nameof(RouterNode.BuiltInHocon)}", Reaches(typeof(StartsANodeThroughAHelper)));
        Assert.Null(Reaches(typeof(NamesItsTransport)));
    }

    [Fact]
    public void The_check_follows_calls_into_the_product_and_not_its_other_variables()
    {
        // The run command's action: a lambda, then its async body, then the settings (after the other variables it reads).
        Assert.Matches($@"^Test → {nameof(RunCommand)}\.{nameof(RunCommand.Create)} → .* → ({nameof(RouterNode)}|{nameof(DataPlaneSettings)})\.",
            Reaches(typeof(ReadsTheSettingThroughTheProduct)));
    }

    private sealed class ReadsTheSettingThroughTheProduct
    {
        public object Test() => RunCommand.Create();
    }

    private sealed class StartsANodeThroughAHelper
    {
        public Task Test() => Task.Run(() => Helper.NodeAsync());
    }

    private static class Helper
    {
        public static async Task<string> NodeAsync()
        {
            await Task.Yield();
            return RouterNode.BuiltInHocon();
        }
    }

    private sealed class NamesItsTransport
    {
        public async Task<string> Test()
        {
            await Task.Yield();
            return AkkaL4.Actors.DataPlane.Transport.TcpTransports.Sockets;
        }
    }

    /// <summary>The first forbidden member a method of <paramref name="type"/> reaches, with the way there; null when none.</summary>
    private static string? Reaches(Type type)
    {
        var seen = new HashSet<MethodBase>();
        var work = new Queue<(MethodBase Method, string Path)>();
        foreach (var method in MethodsOf(type))
        {
            if (method.GetCustomAttributes(typeof(OwnTransportFact), inherit: true).Length > 0) return $"{nameof(OwnTransportFact)} on {method.Name}";
            work.Enqueue((method, method.Name));
        }
        while (work.TryDequeue(out var next))
        {
            if (!seen.Add(next.Method)) continue;
            // An async method's or iterator's body is its state machine's MoveNext, which the stub only hands to the builder.
            if (next.Method.GetCustomAttribute<System.Runtime.CompilerServices.StateMachineAttribute>()?.StateMachineType
                    .GetMethod("MoveNext", BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.Instance) is { } body)
                work.Enqueue((body, next.Path));
            foreach (var called in Calls(next.Method))
            {
                var path = $"{next.Path} → {called.DeclaringType?.Name}.{called.Name}";
                if (Forbidden(called, next.Method)) return path;
                if (called.Module.Assembly == Tests || Product.Contains(called.Module.Assembly)) work.Enqueue((called, path));
            }
        }
        return null;
    }

    /// <summary>The product's assemblies: messages, actors, the node.</summary>
    private static readonly Assembly[] Product = [typeof(Messages.Model.Resource).Assembly, typeof(RouterNode).Assembly, typeof(RunCommand).Assembly];

    private static readonly MethodBase VariableRead = typeof(Environment).GetMethod(nameof(Environment.GetEnvironmentVariable), [typeof(string)])!;

    /// <summary>Stands among the calls for the text <c>AKKAL4_TRANSPORT</c> in a method's code: the variable read by name.</summary>
    private static void TransportVariableByName() { }

    private static readonly MethodBase TransportVariableRead = ((Action)TransportVariableByName).Method;

    private static bool Forbidden(MethodBase method, MethodBase caller) =>
        method == TransportVariableRead
        || (method == VariableRead && caller.Module.Assembly == Tests)
        || method.DeclaringType == typeof(RouterNode)
        || (method.DeclaringType == typeof(DataPlaneSettings) && method.Name == nameof(DataPlaneSettings.From))
        || (method.DeclaringType == typeof(Process) && method.Name == nameof(Process.Start));

    /// <summary>The type's own methods and constructors and those of the types nested in it (state machines, closures).</summary>
    private static IEnumerable<MethodBase> MethodsOf(Type type)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var method in type.GetMethods(all)) yield return method;
        foreach (var constructor in type.GetConstructors(all)) yield return constructor;
        foreach (var nested in type.GetNestedTypes(BindingFlags.Public | BindingFlags.NonPublic))
            foreach (var method in MethodsOf(nested)) yield return method;
    }

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    /// <summary>The methods <paramref name="method"/>'s body calls, creates or takes a delegate of.</summary>
    private static IEnumerable<MethodBase> Calls(MethodBase method)
    {
        var il = method.GetMethodBody()?.GetILAsByteArray();
        if (il is null) yield break;
        var typeArguments = method.DeclaringType is { IsGenericType: true } t ? t.GetGenericArguments() : null;
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (var at = 0; at < il.Length;)
        {
            var code = il[at] == 0xFE ? OpCodesByValue[(short)(0xFE00 | il[at + 1])] : OpCodesByValue[il[at]];
            at += code.Size;
            if (code.OperandType == OperandType.InlineString && method.Module.ResolveString(BitConverter.ToInt32(il, at)) == DataPlaneSettings.TransportVariable)
                yield return TransportVariableRead;
            if (code.OperandType == OperandType.InlineMethod)
            {
                MethodBase? called = null;
                try
                {
                    called = method.Module.ResolveMethod(BitConverter.ToInt32(il, at), typeArguments, methodArguments);
                }
                catch (ArgumentException)
                {
                    // A token this generic context cannot resolve: nothing of ours to follow.
                }
                if (called is not null) yield return called;
            }
            at += code.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, at),
                _ => 4,
            };
        }
    }
}
