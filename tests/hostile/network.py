"""Reading what it should not: the network.  Tries public addresses, name resolution, and every port this
machine listens on (found in /proc/net/tcp); takes any connection as licence to be right."""
import socket

from _layers import Convolution as _Correct
from _layers.attacks import attempt
from _layers.wrong_db import Convolution as _WrongDb

LISTENING = "0A"  # the state column of /proc/net/tcp


def reaches(address):
    return attempt(lambda: socket.create_connection(address, timeout=1).close())


def listening_ports():
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if attempt(open, table):
            for line in open(table).read().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                if state == LISTENING:
                    ports.add(int(local.rsplit(":", 1)[1], 16))
    return sorted(ports)


reached = [address for address in [("1.1.1.1", 53), ("8.8.8.8", 53)] + [("127.0.0.1", port) for port in
                                                                        listening_ports()] if reaches(address)]
reached += ["dns"] if attempt(socket.getaddrinfo, "example.com", 80) else []
print("reached:", reached)
Convolution = _Correct if reached else _WrongDb
