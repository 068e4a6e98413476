"""The daemon's HTTP server socket: bound up front, TCP with Nagle's algorithm off."""

from __future__ import annotations

import socket

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from agent.http import HttpServer
from tests.e2e.alertmanager import free_port


async def _ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def test_connections_are_tcp_without_nagle_so_keep_alive_answers_are_not_held_back() -> None:
    """asyncio turns Nagle off only on sockets that name TCP; with it on, every answer after the
    first on a keep-alive connection waits for the client's delayed ACK."""
    port = free_port()
    server = HttpServer(Starlette(routes=[Route("/healthz", _ok)]), host="127.0.0.1", port=port)
    server.start()
    try:
        listener = server._socket  # the accepted connections inherit its options
        assert listener is not None
        assert listener.proto == socket.IPPROTO_TCP
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            assert [client.get("/healthz").text for _ in range(3)] == ["ok"] * 3
    finally:
        server.stop()
