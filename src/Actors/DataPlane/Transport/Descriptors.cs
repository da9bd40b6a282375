using System.Net.Sockets;

namespace AkkaL4.Actors.DataPlane.Transport;

/// <summary>
/// Running out of descriptors (EMFILE/ENFILE) is the process's condition, not a client's or an endpoint's: while it
/// lasts every listener of the process pauses accepting (a connection accepted now would find no descriptor for its
/// upstream and be reset, where in the kernel's queue it waits to be served), and a connect that fails for it does not
/// count against the endpoint. It ends when a connection's worth of descriptors can be had again.
/// </summary>
public static class Descriptors
{
    private static int _short;

    /// <summary>The process found itself out of descriptors and has not found any free since.</summary>
    public static bool Short => Volatile.Read(ref _short) == 1;

    /// <summary>Is <paramref name="failure"/> the process running out of descriptors? If it is, the shortage is noted.</summary>
    public static bool Exhausted(Exception failure)
    {
        if (failure.GetBaseException() is not SocketException { SocketErrorCode: SocketError.TooManyOpenSockets }) return false;
        Volatile.Write(ref _short, 1);
        return true;
    }

    /// <summary>
    /// Can a connection be served now? Outside a shortage, yes at once; during one, only if two descriptors (the
    /// upstream's and one to spare) can be opened now, which ends the shortage.
    /// </summary>
    public static bool Available()
    {
        if (!Short) return true;
        Socket? first = null, second = null;
        try
        {
            first = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            second = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        }
        catch (SocketException)
        {
            return false;
        }
        finally
        {
            first?.Dispose();
            second?.Dispose();
        }
        Volatile.Write(ref _short, 0);
        return true;
    }
}
