using AkkaL4.Node.Admin;
using AkkaL4.Tests.Support;

namespace AkkaL4.Tests.Security;

/// <summary>
/// The bearer-token check compares SHA-256 digests in fixed time (comparing the strings answered at once for another
/// length, which timed the token's length): the scheme in any case, the token exactly, nothing near it.
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
}
