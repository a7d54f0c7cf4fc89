"""One studio for the module's tests: started in-process on a free loopback port, closed at the end."""
from __future__ import annotations

import socket

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def running_studio(tmp_path_factory):
    from reverie.studio.server import start

    running = start(tmp_path_factory.mktemp("studio"), port=free_port(), block=False, device="cpu",
                    thumbnail_side=48, thumbnail_steps=4)
    yield running
    running.app.close()
