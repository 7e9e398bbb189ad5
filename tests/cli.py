"""Running the installed `livecart` console script as a person would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp

from tests.pipeline import LINEUP, PAGE, VIDEO

LIVECART = str(Path(sys.executable).parent / "livecart")
CONTRACT_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "HOST",
    "PORT",
    "PUBLIC_URL",
    "LIVECART_SECRET",
    "STAFF_TOKEN",
    "META_APP_SECRET",
    "META_VERIFY_TOKEN",
    "META_PAGE_TOKEN",
    "META_GRAPH_URL",
    "META_GRAPH_VERSION",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_URL",
    "TELEGRAM_STAFF_CHATS",
    "REPLAY_WINDOW",
    "HOLD_FOR",
)


def clean_env(**variables: str) -> dict[str, str]:
    """This process's environment without livecart's variables, plus `variables`."""
    env = {k: v for k, v in os.environ.items() if k not in CONTRACT_VARIABLES}
    env.update(variables)
    return env


def livecart(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LIVECART, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(env: dict[str, str], cwd: Path, timeout: float = 30) -> Iterator[str]:
    """`livecart serve` in its own process on a free port; yields its base URL once it answers."""
    port = free_port()
    env = {**env, "HOST": "127.0.0.1", "PORT": str(port)}
    process = subprocess.Popen(
        [LIVECART, "serve"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_listening(process, port, timeout)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def start_live_over_api(
    http: aiohttp.ClientSession, base: str, staff_token: str
) -> dict[str, object]:
    """The test lineup's live (tests.pipeline's Page and video), started through the staff API
    of a livecart at `base`."""
    async with http.post(
        f"{base}/api/lives",
        headers={"Authorization": f"Bearer {staff_token}"},
        json={"platform": "facebook", "page_id": PAGE, "video_id": VIDEO, "lineup_csv": LINEUP},
    ) as response:
        assert response.status == 201, await response.text()
        live: dict[str, object] = await response.json()
    return live


def _wait_until_listening(process: subprocess.Popen[str], port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"livecart serve exited with {process.returncode}:\n{output}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"livecart serve did not listen on {port} within {timeout}s")
