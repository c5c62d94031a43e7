"""Run the app with uvicorn on a socket bound first, so that a busy port is one clear line."""

from __future__ import annotations

import errno
import socket

from ..errors import DigitrecError


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port), or a DigitrecError saying what to change."""
    try:
        family, kind, proto = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][:3]
    except socket.gaierror as exc:
        raise DigitrecError(f"cannot listen on --host {host}: {exc.strerror}") from None
    # proto IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets
    # that say they are TCP, and with it on every answer waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restart past TIME_WAIT
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise DigitrecError(f"port {port} is in use on {host}; choose --port") from None
        if exc.errno == errno.EACCES:
            raise DigitrecError(f"no permission to listen on port {port} (ports below 1024 need root); choose --port") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise DigitrecError(f"cannot listen on --host {host}: not an address of this machine") from None
        raise DigitrecError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def run(app, sock: socket.socket, log_level: str = "info") -> None:
    """Serve `app` on `sock` until interrupted."""
    import uvicorn

    host, port = sock.getsockname()[:2]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level))
    server.run(sockets=[sock])
