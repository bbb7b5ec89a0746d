"""`EmulatorService`, the one way a server starts (`task-emulator serve`, the fixtures'
`EmulatorServer`, the benchmark): it listens on a free port and reads it back, or on a
socket it is given, says which address it cannot listen on, and stops once however often
it is told to."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from emulator.config import EmulatorConfig
from emulator.errors import ConfigError
from emulator.service import EmulatorService


async def test_it_serves_on_the_free_port_it_read_back_until_stopped() -> None:
    async with EmulatorService(EmulatorConfig(clock="virtual"), access_log=False) as service:
        assert service.port
        async with aiohttp.ClientSession() as http, http.get(f"{service.url}/_emulator/health") as answer:
            assert answer.status == 200
        assert await service.start() == service.port  # started already: the same port
    assert service.port is None
    with pytest.raises(RuntimeError, match="not started"):
        _ = service.url
    assert await service.stop() == []  # stopped already: nothing to cut


async def test_it_serves_on_a_listening_socket_it_is_given() -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    async with EmulatorService(EmulatorConfig(clock="virtual"), sock=sock, access_log=False) as service:
        assert service.port == sock.getsockname()[1]
        async with aiohttp.ClientSession() as http, http.get(f"{service.url}/_emulator/health") as answer:
            assert answer.status == 200


async def test_a_port_it_cannot_listen_on_is_a_config_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        service = EmulatorService(EmulatorConfig(clock="virtual"), port=port)
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}: "):
            await service.start()
    assert service.port is None
