namespace AkkaL4.Messages.Model;

public enum Severity { Error, Warning }

/// <summary>
/// One finding about the configuration: which resource (<c>Kind/namespace/name</c>, or
/// <c>document N</c> when the resource could not be identified), which field
/// (<c>spec.tcp[0].match[1].port</c>), and why. <see cref="Location"/> is <c>file:line:column</c> when known.
/// Every part is capped in length: names, keys and values come from the input, and a hostile input
/// must not make its own report huge.
/// </summary>
public sealed record Diagnostic(Severity Severity, string Resource, string Field, string Message, string? Location = null)
{
    /// <summary>Characters of user text a message quotes (see <see cref="Quote"/>).</summary>
    public const int MaxQuoted = 100;
    private const int MaxName = 300;
    private const int MaxMessage = 1000;

    private readonly string _resource = Clip(Resource, MaxName);
    private readonly string _field = Clip(Field, MaxName);
    private readonly string _message = Clip(Message, MaxMessage);
    private readonly string? _location = Location is null ? null : Clip(Location, MaxName);

    public string Resource { get => _resource; init => _resource = Clip(value, MaxName); }
    public string Field { get => _field; init => _field = Clip(value, MaxName); }
    public string Message { get => _message; init => _message = Clip(value, MaxMessage); }
    public string? Location { get => _location; init => _location = value is null ? null : Clip(value, MaxName); }

    public static Diagnostic Error(string resource, string field, string message, string? location = null) =>
        new(Severity.Error, resource, field, message, location);

    public static Diagnostic Warning(string resource, string field, string message, string? location = null) =>
        new(Severity.Warning, resource, field, message, location);

    /// <summary>User text as a message quotes it: at most <paramref name="max"/> (<see cref="MaxQuoted"/>) characters, then how long it was.</summary>
    public static string Quote(string text, int max = MaxQuoted) => Clip(text, max);

    private static string Clip(string text, int max)
    {
        if (text.Length <= max) return text;
        // Never half a surrogate pair.
        var cut = char.IsHighSurrogate(text[max - 1]) ? max - 1 : max;
        return $"{text[..cut]}… ({text.Length} characters)";
    }

    public override string ToString() =>
        $"{(Severity == Severity.Error ? "error" : "warning")}  {Resource}  {(Field.Length == 0 ? "-" : Field)}  {Message}"
        + (Location is null ? "" : $" (at {Location})");
}
