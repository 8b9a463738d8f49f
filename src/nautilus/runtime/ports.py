"""Free TCP port offsets for side-by-side stacks (tests, benches, the browser suite).

Offsets are chosen so that every port stays below the kernel's ephemeral range: a client connecting to
a port in that range where nobody listens can be connected to itself by the kernel (TCP simultaneous
open), and outgoing connections could take the port before the stack binds it.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterable
from pathlib import Path

_PORT_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST_OFFSET = 1_000


def ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (32768 where the kernel does not say)."""
    try:
        return int(_PORT_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_offset(ports: Iterable[int], tries: int = 200) -> int:
    """A random offset o such that every ``port + o`` is free now and below the ephemeral range."""
    ports = sorted(set(ports))
    highest = ephemeral_low() - 1 - ports[-1]
    if highest <= _LOWEST_OFFSET:
        raise RuntimeError(f"ports up to {ports[-1]} leave no room below the ephemeral range ({ephemeral_low()})")
    for _ in range(tries):
        offset = random.randrange(_LOWEST_OFFSET, highest) // 10 * 10
        if all(port_free(port + offset) for port in ports):
            return offset
    raise RuntimeError(f"no free port offset found in {tries} tries")


def main() -> None:
    """Print a free offset for a whole stack (dashboard, gateway and every engine)."""
    from nautilus.config import DEFAULT_ENGINE_PORTS, Settings

    fields = Settings.model_fields
    print(free_port_offset([fields["web_port"].default, fields["gateway_port"].default,
                            *DEFAULT_ENGINE_PORTS.values()]))


if __name__ == "__main__":
    main()
