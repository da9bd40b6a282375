using System.Runtime.InteropServices;
using AkkaL4.Node;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Node;

/// <summary>A node gives the C library's freed memory back once started (session 13, mem13): glibc keeps what was freed
/// in the middle of its heaps resident until <c>malloc_trim</c>.</summary>
[Trait("Category", TestCategories.Unit)]
public sealed class NativeHeapTests
{
    [Fact]
    public void Trim_returns_freed_heap_memory_to_the_system()
    {
        Assert.True(OperatingSystem.IsLinux(), "the node's images and CI are Linux (glibc)");
        Assert.True(NativeHeap.CanTrim);

        // 64 MiB in 32 KiB blocks (below glibc's mmap threshold: inside a heap), every page touched; every block but
        // each 64th freed, so the free space lies between blocks still in use, where glibc does not return it on its own.
        const int Block = 32 * 1024, Count = 2048;
        var blocks = new IntPtr[Count];
        var ones = new byte[Block];
        Array.Fill(ones, (byte)1);
        for (var i = 0; i < Count; i++)
        {
            blocks[i] = Marshal.AllocHGlobal(Block); // malloc
            Marshal.Copy(ones, 0, blocks[i], Block);
        }
        try
        {
            for (var i = 0; i < Count; i++)
                if (i % 64 != 63) { Marshal.FreeHGlobal(blocks[i]); blocks[i] = IntPtr.Zero; }
            var before = RssAnonKiB();

            Assert.True(NativeHeap.Trim());

            var released = before - RssAnonKiB();
            Assert.True(released >= 32 * 1024, $"{released} KiB released of ~{Count * 63 / 64 * Block / 1024} KiB freed");
        }
        finally
        {
            foreach (var b in blocks) if (b != IntPtr.Zero) Marshal.FreeHGlobal(b);
        }
    }

    private static long RssAnonKiB() =>
        long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("RssAnon:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
}
