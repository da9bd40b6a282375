using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace AkkaL4.Node.Admin;

/// <summary>
/// The status page's cookie after a login: <c>v1.EXPIRY.MAC</c>, EXPIRY in Unix seconds and MAC an HMAC-SHA256 of
/// <c>v1.EXPIRY</c> under a key derived from the admin token. It is not the token, and no session is kept anywhere:
/// every node with the same token accepts it until it expires (<see cref="Lifetime"/>), and a node restarted with
/// another token refuses every cookie issued under the old one. Logging out clears it in the browser; a copy taken
/// before stays good until its expiry or the next token.
/// </summary>
internal sealed class SessionCookie(string token, TimeProvider time)
{
    public const string Name = "akkal4-session";
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(8);

    /// <summary>A key of its own for cookies (the token itself is never a MAC key, nor sent).</summary>
    private readonly byte[] _key = HMACSHA256.HashData(Encoding.UTF8.GetBytes(token), "akkal4 status-page session cookie v1"u8);

    public enum Verdict { Valid, Expired, Invalid }

    public string Issue()
    {
        var expiry = (time.GetUtcNow() + Lifetime).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return $"v1.{expiry}.{Mac(expiry)}";
    }

    public Verdict Check(string value)
    {
        var parts = value.Split('.');
        if (parts is not ["v1", var expiry, var mac] || !long.TryParse(expiry, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
            return Verdict.Invalid;
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(mac), Encoding.ASCII.GetBytes(Mac(expiry))))
            return Verdict.Invalid;
        return time.GetUtcNow().ToUnixTimeSeconds() < seconds ? Verdict.Valid : Verdict.Expired;
    }

    private string Mac(string expiry) => Base64Url.EncodeToString(HMACSHA256.HashData(_key, Encoding.ASCII.GetBytes("v1." + expiry)));
}
