"""``python -m api`` with several workers: the shared listening socket."""

from __future__ import annotations

import asyncio
import socket

from api.serve import APP, _TcpConfig
from tests.api.test_e2e_uvicorn import free_port


def test_connections_to_several_workers_get_tcp_nodelay_so_kept_alive_answers_are_not_held_back() -> None:
    """asyncio sets TCP_NODELAY only on sockets that say they are TCP; uvicorn's own
    multi-worker socket said protocol 0 and every kept-alive answer waited ~40 ms."""
    config = _TcpConfig(APP, factory=True, host="127.0.0.1", port=free_port(), workers=2)
    listening = config.bind_socket()
    assert listening.proto == socket.IPPROTO_TCP

    async def accepted_nodelay() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.set_result(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connect, sock=listening)
        async with server:
            _, writer = await asyncio.open_connection("127.0.0.1", config.port)
            value = await asyncio.wait_for(seen, 5)
            writer.close()
            return value

    assert asyncio.run(accepted_nodelay()) != 0
