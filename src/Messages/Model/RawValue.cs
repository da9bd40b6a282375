namespace AkkaL4.Messages.Model;

/// <summary>
/// A piece of a manifest AkkaL4 keeps but does not interpret (HTTP route bodies, TLS certificate
/// settings): kept verbatim so it can be shown back, compared and re-encoded.
/// </summary>
public abstract record RawValue;

public sealed record RawScalar(string Value, bool Quoted = false) : RawValue;

public sealed record RawList(Seq<RawValue> Items) : RawValue;

public sealed record RawMap(Seq<RawField> Fields) : RawValue
{
    public RawValue? this[string key] => Fields.FirstOrDefault(f => f.Key == key)?.Value;
}

public sealed record RawField(string Key, RawValue Value);
