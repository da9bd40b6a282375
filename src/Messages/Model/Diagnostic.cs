namespace AkkaL4.Messages.Model;

public enum Severity { Error, Warning }

/// <summary>
/// One finding about the configuration: which resource (<c>Kind/namespace/name</c>, or
/// <c>document N</c> when the resource could not be identified), which field
/// (<c>spec.tcp[0].match[1].port</c>), and why. <see cref="Location"/> is <c>file:line:column</c> when known.
/// </summary>
public sealed record Diagnostic(Severity Severity, string Resource, string Field, string Message, string? Location = null)
{
    public static Diagnostic Error(string resource, string field, string message, string? location = null) =>
        new(Severity.Error, resource, field, message, location);

    public static Diagnostic Warning(string resource, string field, string message, string? location = null) =>
        new(Severity.Warning, resource, field, message, location);

    public override string ToString() =>
        $"{(Severity == Severity.Error ? "error" : "warning")}  {Resource}  {(Field.Length == 0 ? "-" : Field)}  {Message}"
        + (Location is null ? "" : $" (at {Location})");
}
