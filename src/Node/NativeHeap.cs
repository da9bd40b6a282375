using System.Runtime.InteropServices;

namespace AkkaL4.Node;

/// <summary>
/// Gives the C library's free memory back to the system once a node has started. Starting a node JIT-compiles some
/// 15,000 methods and loads its types; the JIT's and the type loader's scratch memory comes from <c>malloc</c> and is
/// freed, but glibc keeps freed memory inside its heaps (only the top of a heap is returned on its own), so ~17 MiB of
/// a fresh node's RSS on two cores (~1 MiB on one: fewer malloc arenas) was memory nothing used (bench/README.md, "Memory,
/// session 13"). <c>malloc_trim(0)</c> returns
/// the free pages of every heap. Where there is none (musl, another OS), nothing is done. A node trims after start
/// (<see cref="AfterStart"/>).
/// </summary>
internal static class NativeHeap
{
    private static readonly Lazy<TrimFunction?> Function = new(Resolve);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int TrimFunction(nuint pad);

    /// <summary>Whether this process's C library can trim (glibc's <c>malloc_trim</c>).</summary>
    internal static bool CanTrim => Function.Value is not null;

    /// <summary>Returns the C library's free memory to the system: true if any was (false also where it cannot trim).</summary>
    internal static bool Trim() => Function.Value is { } trim && trim(0) != 0;

    private static TrimFunction? Resolve()
    {
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad("libc.so.6", out var libc)) return null;
        return NativeLibrary.TryGetExport(libc, "malloc_trim", out var address)
            ? Marshal.GetDelegateForFunctionPointer<TrimFunction>(address)
            : null;
    }
}
