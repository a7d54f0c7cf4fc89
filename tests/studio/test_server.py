"""Starting the studio: loopback by default, a warning for anything else, a taken port as one line."""
from __future__ import annotations

import socket

import pytest

from reverie.errors import ReverieError
from reverie.studio.server import check_port, is_loopback


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                                ("0.0.0.0", False), ("no-such-host.invalid", False)])
def test_only_loopback_addresses_count_as_private(host, loopback):
    assert is_loopback(host) is loopback


def test_a_port_in_use_is_one_line_naming_it():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ReverieError, match=f"cannot listen on 127.0.0.1:{port}: .*pick another --port"):
            check_port("127.0.0.1", port)
