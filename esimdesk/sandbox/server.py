"""Serve the sandbox over real HTTP on 127.0.0.1 (ephemeral port) from a background thread."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path

import uvicorn

from esimdesk.sandbox.app import Sandbox
from esimdesk.sandbox.base import SANDBOX_CREDENTIALS, SandboxConfig
from esimdesk.sandbox.ecb import FOLDER as ECB_FOLDER
from esimdesk.sandbox.ecb import MOUNT as ECB_MOUNT


class _QuietDrops(logging.Filter):
    """The 'drop' and 'timeout' faults abort answers on purpose; uvicorn's traceback for them is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, ConnectionAbortedError) or "connection dropped on purpose" in text)


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


class SandboxServer:
    """``with SandboxServer() as sb: sb.urls["roumio"]`` — the sandbox on a real socket."""

    def __init__(self, config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 vendors: tuple[str, ...] | None = None, state_file: Path | str | None = None):
        # state_file: keep the world there across runs (see state.py); None: in memory, gone at stop().
        self.sandbox = Sandbox(config, vendors, state_file=state_file)
        self.host, self.port = host, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def config(self) -> SandboxConfig:
        return self.sandbox.config

    @property
    def root(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def urls(self) -> dict[str, str]:
        return {name: self.root + sim.mount for name, sim in self.sandbox.vendors.items()}

    @property
    def ecb_url(self) -> str:
        """The folder of the simulated ECB rate files (``eurofxref-daily.xml``, ``eurofxref-hist-90d.xml``)."""
        return self.root + ECB_MOUNT + ECB_FOLDER + "/"

    def env(self) -> dict[str, str]:
        """ESIMDESK_* variables that point the app (or any tool) at this sandbox."""
        env: dict[str, str] = {"ESIMDESK_ECB_URL": self.ecb_url}
        for name, url in self.urls.items():
            env[f"ESIMDESK_{name.upper()}_URL"] = url
            for key, value in SANDBOX_CREDENTIALS[name].items():
                env[f"ESIMDESK_{name.upper()}_{key}"] = value
        return env

    def start(self, timeout: float = 10.0) -> SandboxServer:
        # No Date header of uvicorn's (the real clock): each vendor stamps its own, from its own clock.
        config = uvicorn.Config(self.sandbox.app, host=self.host, port=self.port, log_level="warning",
                                lifespan="off", access_log=False, timeout_keep_alive=30, date_header=False)
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # not the main thread
        self._thread = threading.Thread(target=self._run, name="esimdesk-sandbox", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("sandbox server did not start")
            time.sleep(0.01)
        sock = self._server.servers[0].sockets[0]
        self.port = sock.getsockname()[1]
        return self

    def _run(self) -> None:
        assert self._server is not None
        asyncio.run(self._server.serve())

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
