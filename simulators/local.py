"""Starting a daemon on this machine and waiting for it: shared by the demo, the tests and
the benchmark, which all run the real ``terminal-gateway run`` as a child process."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port on the loopback nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path | None = None, seconds: float = 30) -> None:
    """Return once ``port`` accepts connections; fail, with the end of ``log``, if ``process``
    exits first or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text()[-3000:] if log else ""
            raise RuntimeError(f"the process exited with {process.returncode} during start-up\n{tail}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on port {port} within {seconds} s")
