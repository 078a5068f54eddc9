"""A client that hangs up before its request's body arrived (a sync's walk stopping at its 30 s budget, a Cancel)
is nobody to answer: the sandbox goes on serving, and prints no error with a traceback for it (it did, once a
request, through a benchmark's log). A real socket, a real server."""

from __future__ import annotations

import logging
import socket
import time

import httpx
import pytest

from esimdesk.sandbox import SANDBOX_CREDENTIALS, SandboxConfig, SandboxServer


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record.getMessage())


@pytest.mark.parametrize("world", [False, True], ids=["in memory", "with a world file"])
def test_a_request_left_half_sent_is_not_an_error_and_the_vendor_goes_on(tmp_path, world):
    state = tmp_path / "world.json" if world else None
    with SandboxServer(SandboxConfig(seed=7), vendors=("roumio",), state_file=state) as srv:
        # uvicorn's own logger, once the server has set it up (its configuration replaces the handlers): it does
        # not pass its records on to the root logger, nor to pytest's caplog.
        errors, server_log = _Errors(), logging.getLogger("uvicorn.error")
        server_log.addHandler(errors)
        try:
            url = httpx.URL(srv.urls["roumio"])
            key = SANDBOX_CREDENTIALS["roumio"]["KEY"]
            with socket.create_connection((url.host, url.port)) as sock:
                sock.sendall((f"POST {url.path.rstrip('/')}/balance HTTP/1.1\r\nHost: {url.host}\r\n"
                              f"Authorization: {key}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
                              '{"a":').encode())
                time.sleep(0.3)  # the endpoint is waiting for the rest of the body
            time.sleep(0.5)  # the server sees the hang-up
            got = httpx.post(f"{srv.urls['roumio'].rstrip('/')}/balance", json={}, headers={"Authorization": key})
        finally:
            server_log.removeHandler(errors)
    assert errors.seen == []
    assert got.status_code == 200 and got.json()["success"] is True
