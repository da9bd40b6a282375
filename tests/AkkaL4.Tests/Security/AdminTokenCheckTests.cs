using System.Net;
using AkkaL4.Node.Admin;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Security;

/// <summary>
/// The bearer-token check compares SHA-256 digests in fixed time (comparing the strings answered at once for another
/// length, which timed the token's length): the scheme in any case, the token exactly, nothing near it. And which tokens a
/// node takes at all: off loopback one of at least 16 characters; nowhere one with white space at an end.
/// </summary>
[Trait("Category", TestCategories.Unit)]
public sealed class AdminTokenCheckTests
{
    private const string Token = "s3cret-token";

    [Theory]
    [InlineData("Bearer s3cret-token", true)]
    [InlineData("bearer s3cret-token", true)]
    [InlineData("BEARER s3cret-token ", true)]
    [InlineData("Bearer s3cret-toke", false)]
    [InlineData("Bearer s3cret-token1", false)]
    [InlineData("Bearer s3cret-token s3cret-token", false)]
    [InlineData("Bearer S3CRET-TOKEN", false)]
    [InlineData("Bearer ", false)]
    [InlineData("Bearer", false)]
    [InlineData("Basic s3cret-token", false)]
    [InlineData(" s3cret-token", false)]
    [InlineData("s3cret-token", false)]
    public void Only_the_token_itself_after_the_bearer_scheme_is_right(string authorization, bool right) =>
        Assert.Equal(right, AdminServer.HasToken(authorization, Token));

    [Theory]
    [InlineData("127.0.0.1", null, null)]
    [InlineData("127.20.3.4", "short", null)]
    [InlineData("::1", "", null)]
    [InlineData("0.0.0.0", null, "give it a token")]
    [InlineData("10.1.2.3", "", "give it a token")]
    [InlineData("0.0.0.0", "fifteen-chars-x", "a token of 15 characters can be guessed there")]
    [InlineData("::", "abc", "a token of 3 characters can be guessed there")]
    [InlineData("0.0.0.0", "sixteen-chars-xy", null)]
    [InlineData("0.0.0.0", "sixteen-chars-xy\n", "white space")]
    [InlineData("127.0.0.1", " s3cret-token", "white space")]
    [InlineData("127.0.0.1", "s3cret-token\r", "white space")]
    public void A_token_is_refused_off_loopback_when_missing_or_short_and_anywhere_with_white_space_at_an_end(string address, string? token, string? refused)
    {
        var refusal = AdminServer.TokenRefusal(new IPEndPoint(IPAddress.Parse(address), 15000), token);
        if (refused is null) Assert.Null(refusal);
        else
        {
            Assert.NotNull(refusal);
            Assert.Contains(refused, refusal);
            if (!string.IsNullOrEmpty(token)) Assert.DoesNotContain(token.Trim(), refusal);
        }
    }
}
