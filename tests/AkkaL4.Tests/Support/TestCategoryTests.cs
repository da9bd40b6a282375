using System.Reflection;

namespace AkkaL4.Tests.Support;

[Trait("Category", "Unit")]
public sealed class TestCategoryTests
{
    [Fact]
    public void Every_test_class_says_what_it_costs_with_a_known_category()
    {
        var classes = typeof(TestCategoryTests).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false }
                        && t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static)
                            .Any(m => m.IsDefined(typeof(FactAttribute), inherit: true)))
            .ToList();
        Assert.True(classes.Count > 50, $"found only {classes.Count} test classes: the search is broken");

        var wrong = classes
            .Select(t => (Class: t.FullName, Categories: Categories(t)))
            .Where(c => c.Categories.Count == 0 || !c.Categories.All(TestCategories.All.Contains))
            .Select(c => $"{c.Class} [{string.Join(", ", c.Categories)}]")
            .ToList();
        Assert.True(wrong.Count == 0,
            $"test classes without a known Category trait ({string.Join(", ", TestCategories.All)}; see Support/TestCategories.cs), "
            + $"put e.g. [Trait(\"Category\", \"Unit\")] on the class:\n{string.Join("\n", wrong)}");
    }

    /// <summary>The Category traits on the class itself (a nested or derived class needs its own).</summary>
    private static List<string> Categories(Type type) =>
        type.GetCustomAttributesData()
            .Where(a => a.AttributeType == typeof(TraitAttribute) && (string?)a.ConstructorArguments[0].Value == "Category")
            .Select(a => (string)a.ConstructorArguments[1].Value!)
            .ToList();
}
