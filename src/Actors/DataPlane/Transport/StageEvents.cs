using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Streams.Implementation.Fusing;
using Akka.Streams.Stage;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>
/// A stage's events into its own interpreter as <c>GetAsyncCallback</c> delivers them (an <c>AsyncInput</c> to the actor that
/// runs the interpreter, or to the interpreter's own queue when told from inside it; the handler runs as the stage), without
/// what Akka.Streams 1.5.73 allocates on every call: a closure that <c>ConcurrentAsyncCallback.OnAsyncInput</c> makes for a
/// trace context even when there is none, and the boxed <c>AsyncInput</c>. A message told again and again (a socket's
/// completion, whose event is always its own args) is made once with <see cref="Prepare"/> and told as is with
/// <see cref="TellPrepared"/>: a relayed message then allocates nothing (it was ~240 bytes per request and answer,
/// bench/README.md, session 30). Where the stage's interpreter is not run by an actor's shell, <see cref="Of"/> says so and
/// the stage keeps <c>GetAsyncCallback</c>.
/// </summary>
internal static class StageEvents
{
    // GraphStageLogic.Interpreter is internal in Akka.Streams 1.5; the interpreter's OnAsyncInput, the shell and AsyncInput are public.
    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_Interpreter")]
    private static extern GraphInterpreter InterpreterOf(GraphStageLogic logic);

    /// <summary>
    /// The interpreter running <paramref name="logic"/> (from its PreStart on), if an actor's shell runs it: the shell is what
    /// the interpreter's <c>OnAsyncInput</c> belongs to (Akka's own delivery), checked against the interpreter. Null otherwise.
    /// </summary>
    public static GraphInterpreter? Of(GraphStageLogic logic)
    {
        try
        {
            var interpreter = InterpreterOf(logic);
            return interpreter.OnAsyncInput?.Target is GraphInterpreterShell shell && ReferenceEquals(shell.Interpreter, interpreter) ? interpreter : null;
        }
        catch (MissingMethodException)
        {
            return null;
        }
    }

    /// <summary>Tells <paramref name="evt"/> to <paramref name="logic"/>, run by <paramref name="handler"/> inside its interpreter (any thread).</summary>
    public static void Tell(GraphInterpreter interpreter, GraphStageLogic logic, Action<object> handler, object evt) =>
        interpreter.OnAsyncInput(logic, evt, GraphStageLogic.NoPromise, handler);

    /// <summary>The message that tells <paramref name="evt"/> to <paramref name="logic"/>, made once for <see cref="TellPrepared"/>.</summary>
    public static object Prepare(GraphInterpreter interpreter, GraphStageLogic logic, Action<object> handler, object evt) =>
        new ActorGraphInterpreter.AsyncInput((GraphInterpreterShell)interpreter.OnAsyncInput.Target!, logic, evt, GraphStageLogic.NoPromise, handler);

    /// <summary>
    /// Tells a message made by <see cref="Prepare"/>. From outside any interpreter (a socket's completion) it goes to the shell's
    /// actor as it is; inside one, as <see cref="Tell"/> does (Akka's queue for an interpreter telling itself).
    /// </summary>
    public static readonly Action<object> TellPrepared = static prepared =>
    {
        var input = (ActorGraphInterpreter.AsyncInput)prepared;
        if (GraphInterpreter.CurrentInterpreterOrNull is null) input.Shell.Self.Tell(prepared, ActorRefs.NoSender);
        else input.Shell.Interpreter.OnAsyncInput(input.Logic, input.Event, input.Promise, input.Handler);
    };
}
