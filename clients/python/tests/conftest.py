"""Fixtures: a real Needle server, started from the repository's binary for the session.

The binary is ``$NEEDLE_BIN`` or ``<target>/debug/needle``, where ``<target>`` is
``$CARGO_TARGET_DIR`` or ``<repo>/target``; when it is missing it is built with
``cargo build -p needle`` (cargo waits for the build lock if someone else holds it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import random
import string
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]


def _binary() -> Path:
    env = os.environ.get("NEEDLE_BIN")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    if not target.is_absolute():
        target = REPO / target
    path = target / "debug" / "needle"
    if not path.exists():
        if shutil.which("cargo") is None:
            pytest.fail(f"{path} is missing and cargo is not installed to build it")
        subprocess.run(["cargo", "build", "-p", "needle"], cwd=REPO, check=True)
    if not path.exists():
        pytest.fail(f"built needle but {path} is missing; set NEEDLE_BIN")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running ``needle serve`` with its own data directory."""

    def __init__(self, binary: Path, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.log_path = data_dir.parent / f"{data_dir.name}.log"
        for _ in range(3):  # another process may grab the free port first
            self.port = _free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            self._log = open(self.log_path, "wb")
            self.proc = subprocess.Popen(
                [str(binary), "serve", "--data-dir", str(data_dir), "--http-addr", f"127.0.0.1:{self.port}"],
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
            if self._wait_ready(30.0):
                return
            self.stop()
        pytest.fail(f"needle did not become ready; log:\n{self.log()}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=1.0).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def paths(self) -> set[str]:
        return set(httpx.get(f"{self.url}/openapi.json").json()["paths"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory):
    srv = Server(_binary(), tmp_path_factory.mktemp("needle") / "data")
    yield srv
    srv.stop()


@pytest.fixture
def uid() -> str:
    """A unique made-up word (letters only, so it is one search token): tests sharing the
    session's server use it in ids and names and never see each other's data."""
    return "".join(random.choice(string.ascii_lowercase) for _ in range(10))


def wait_for(predicate, timeout: float = 5.0, interval: float = 0.05):
    """Poll until ``predicate()`` is truthy (writes are searchable within ~1 s)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


SDK_ARTISTS = [f"sdk-a{i}" for i in range(6)]


@pytest.fixture(scope="session")
def trained(server):
    """A model trained on a small catalog: six artists in two taste groups, twelve listeners
    (each plays three neighbouring artists). Returns the finished Job."""
    from needle import Needle, TrainAccepted

    with Needle(server.url) as c:
        c.write([{"id": a, "type": "artist", "name": f"SDK artist {i}", "tags": ["g" + str(i % 2)]}
                 for i, a in enumerate(SDK_ARTISTS)])
        c.send_events(
            [
                {"user_id": f"sdk-u{u}", "type": "play", "item_id": f"sdk-a{(u + k) % 6}", "ts": 1_700_000_000_000,
                 "event_id": f"sdk-{u}-{k}"}
                for u in range(12)
                for k in range(3)
            ]
        )
        accepted = c.train()
        assert isinstance(accepted, TrainAccepted)
        assert accepted.job_id.startswith("train-") and accepted.status in ("queued", "running")
        # Polls with the client's sleep until the real training is over.
        return c.wait_for_job(accepted, timeout=120, interval=0.05)
