using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using AkkaL4.Actors.DataPlane;
using AkkaL4.Node.Echo;
using Xunit.Abstractions;
using static AkkaL4.Tests.DataPlane.Kit;

namespace AkkaL4.Tests.DataPlane;

/// <summary>
/// The relay itself: half-close forwarded per direction, and bulk data both ways byte for byte.
/// Addresses: 127.1.8.x.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class RelayTests(ITestOutputHelper output)
{
    private const string Client = "127.1.8.30";

    [Fact]
    public async Task Half_close_the_client_still_gets_its_replies_then_EOF()
    {
        await using var pod = new EchoServer(At("127.1.8.11", 9000), "relay");
        await using var router = TestRouter.Start("half-close");
        await router.ApplyAsync(1, Service("relay", "127.1.8.1", 19000, 9000, "relay"), WorkloadEntry("relay-pod", "127.1.8.11", "{app: relay}"));

        await using var client = await TestClient.ConnectAsync(Client, At("127.1.8.1", 19000));
        await client.SendAsync("one\ntwo\n"u8.ToArray());
        client.ShutdownSend();
        var end = await client.ReadToCloseAsync();

        Assert.False(end.Reset, "the connection was reset instead of closed");
        Assert.Equal("relay one\nrelay two\n", end.Text);
        var entry = await router.Log.ForAsync(client.Id);
        Assert.Equal(ResponseFlags.None, entry.Flags);
        Assert.Equal(8, entry.BytesReceived);
        Assert.Equal(20, entry.BytesSent);
    }

    [Fact]
    public async Task Hundred_megabytes_each_way_arrive_intact()
    {
        const long total = 100L * 1024 * 1024;
        const int chunk = 64 * 1024;
        await using var pod = new ByteEchoServer(At("127.1.8.12", 9000));
        await using var router = TestRouter.Start("bulk");
        await router.ApplyAsync(1, Service("bulk", "127.1.8.2", 19000, 9000, "bulk"), WorkloadEntry("bulk-pod", "127.1.8.12", "{app: bulk}"));

        await using var client = await TestClient.ConnectAsync(Client, At("127.1.8.2", 19000));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var clock = Stopwatch.StartNew();

        var send = Task.Run(async () =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var random = new Random(4711);
            var buffer = new byte[chunk];
            for (long sent = 0, block = 0; sent < total; sent += chunk, block++)
            {
                random.NextBytes(buffer);
                BinaryPrimitives.WriteInt64LittleEndian(buffer, block); // a reordered block changes the hash
                hash.AppendData(buffer);
                for (var off = 0; off < chunk;) off += await client.SendSomeAsync(buffer.AsMemory(off), timeout.Token);
            }
            client.ShutdownSend();
            return hash.GetHashAndReset();
        });
        var receive = Task.Run(async () =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[chunk];
            long received = 0;
            int n;
            while ((n = await client.ReceiveAsync(buffer, timeout.Token)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                received += n;
            }
            return (received, hash.GetHashAndReset());
        });

        var sentHash = await send;
        var (receivedBytes, receivedHash) = await receive;
        output.WriteLine($"100 MB each way in {clock.Elapsed}");

        Assert.Equal(total, receivedBytes);
        Assert.Equal(Convert.ToHexString(sentHash), Convert.ToHexString(receivedHash));
        var entry = await router.Log.ForAsync(client.Id);
        Assert.Equal(ResponseFlags.None, entry.Flags);
        Assert.Equal(total, entry.BytesReceived);
        Assert.Equal(total, entry.BytesSent);
    }
}
