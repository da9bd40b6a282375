using System.Diagnostics;
using AkkaL4.Tests.DataPlane;

namespace AkkaL4.Tests.Node;

/// <summary>The README's first command, run as a user would: the whole walkthrough through the real process.</summary>
[Collection(SeedAddressesCollection.Name)]
public class DemoCliTests
{
    [Fact]
    public async Task Demo_once_walks_every_case_and_every_answer_is_right()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "akkal4.dll");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { dll, "demo", "--once" }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        var text = await output;

        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}\n{text}\n{await errors}");
        Assert.Contains("Every case answered as the walkthrough says.", text);
        foreach (var n in Enumerable.Range(1, 6)) Assert.Contains($"Case {n}.", text);
        Assert.DoesNotContain("WRONG", text);
        Assert.DoesNotContain("[ERROR]", text);
        // Case 6 shows the exact smooth 80/20 order: the third of five goes to the gray pod.
        Assert.Contains("expect: hello-gray test   got: hello-gray test   ok", text);
    }
}
