using System.Globalization;
using System.Net;
using System.Runtime.Versioning;

namespace LeakHunter.Inspector.Platform.Linux;

/// <summary>
/// What a descriptor points to, for a person: a file's path as it is, and a socket's protocol and addresses from the
/// process's own view of the network (<c>/proc/PID/net</c>), never anything sent over it.
/// </summary>
[SupportedOSPlatform("linux")]
internal static class ProcSockets
{
    /// <summary>
    /// <c>/var/log/app.log</c>; <c>tcp 127.0.0.1:41822 -&gt; 127.0.0.1:5000 (established)</c>; <c>unix socket /run/app.sock</c>; <c>pipe</c>.
    /// </summary>
    public static string Describe(int processId, string target)
    {
        if (target.StartsWith("pipe:", StringComparison.Ordinal))
            return "pipe";
        if (!target.StartsWith("socket:[", StringComparison.Ordinal) || !target.EndsWith(']'))
            return target;
        string inode = target["socket:[".Length..^1];
        foreach (string protocol in new[] { "tcp", "tcp6", "udp", "udp6" })
        {
            if (FindInet(processId, protocol, inode) is string inet)
                return inet;
        }
        return FindUnix(processId, inode) ?? "socket (not TCP, UDP or a Unix socket)";
    }

    private static string? FindInet(int processId, string protocol, string inode)
    {
        foreach (string[] fields in Rows($"/proc/{processId}/net/{protocol}"))
        {
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
            if (fields.Length < 10 || fields[9] != inode)
                continue;
            string local = Endpoint(fields[1]);
            string remote = Endpoint(fields[2]);
            string name = protocol.TrimEnd('6');
            return fields[3] == "0A" ? $"{name} listening on {local}" : $"{name} {local} -> {remote}{State(fields[3], name)}";
        }
        return null;
    }

    private static string? FindUnix(int processId, string inode)
    {
        foreach (string[] fields in Rows($"/proc/{processId}/net/unix"))
        {
            // Num RefCount Protocol Flags Type St Inode Path
            if (fields.Length >= 7 && fields[6] == inode)
                return fields.Length >= 8 ? $"unix socket {fields[7]}" : "unix socket with no path";
        }
        return null;
    }

    private static IEnumerable<string[]> Rows(string table)
    {
        IEnumerable<string> lines;
        try
        {
            lines = File.ReadLines(table).Skip(1).ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            yield break;
        }
        foreach (string line in lines)
            yield return line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary><c>0100007F:1388</c> is 127.0.0.1:5000: the address in the kernel's byte order, 32 bits at a time, the port big-endian.</summary>
    private static string Endpoint(string hex)
    {
        int colon = hex.IndexOf(':');
        if (colon < 0)
            return hex;
        string addressHex = hex[..colon];
        var bytes = new byte[addressHex.Length / 2];
        for (int word = 0; word < bytes.Length / 4; word++)
        {
            uint value = uint.Parse(addressHex.AsSpan(word * 8, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            BitConverter.TryWriteBytes(bytes.AsSpan(word * 4, 4), value);
        }
        var address = new IPAddress(bytes);
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        int port = int.Parse(hex.AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        return address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]:{port}" : $"{address}:{port}";
    }

    private static string State(string code, string protocol) => protocol == "udp" ? "" : code switch
    {
        "01" => " (established)",
        "06" => " (time wait)",
        "08" => " (close wait: the peer closed, this side never did)",
        _ => "",
    };
}
