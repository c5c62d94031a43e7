"""serve.server: the socket bound before uvicorn starts is a TCP socket that asyncio answers on
without Nagle's delay."""

from __future__ import annotations

import asyncio
import socket

from digitrec.serve import bind


def test_bound_socket_says_it_is_tcp_so_answers_go_out_at_once():
    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP  # asyncio sets TCP_NODELAY only on such sockets
        nodelay = asyncio.run(_accepted_nodelay(sock))
    finally:
        sock.close()
    # Without it each answer's second write waited for the client's delayed ACK: ~40 ms a request.
    assert nodelay == 1


async def _accepted_nodelay(sock: socket.socket) -> int:
    """TCP_NODELAY of the connection an asyncio server accepts on `sock`."""
    seen = asyncio.get_running_loop().create_future()

    def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(accepted, sock=sock)
    _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
    try:
        return await asyncio.wait_for(seen, 10)
    finally:
        writer.close()
        server.close()
