"""A local stack of its own (a temporary home, free ports), driven through `python -m callqa_stack` as an
operator drives `./run stack`: for the fault suite and the load benchmark."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from callqa_stack import servers, stack


class ThrowawayStack:
    def __init__(self, home: Path, environment: Mapping[str, str] = {}) -> None:
        self.home = home
        ports = {
            "CALLQA_STACK_S3_PORT": servers.free_port(),
            "CALLQA_STACK_KAFKA_PORT": servers.free_port(),
            **{f"CALLQA_STACK_{s.package.upper()}_PORT": servers.free_port() for s in stack.SERVICES},
        }
        self.env = {**os.environ, **environment, "CALLQA_HOME": str(home), **{k: str(v) for k, v in ports.items()}}

    def run(self, *command: str) -> None:
        """`./run stack COMMAND` against this stack."""
        subprocess.run(
            [sys.executable, "-m", "callqa_stack", *command],
            env=self.env,
            check=True,
            cwd=servers.REPO_ROOT,
            timeout=300,
            stdout=subprocess.DEVNULL,
        )

    def state(self) -> stack.StackState:
        state = stack.StackState.load(self.home)
        if state is None:
            raise RuntimeError(f"no stack is up in {self.home}")
        return state

    def pid(self, part: str) -> int:
        return self.state().pids[part]

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.state().ports.services[service]}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.state().ports.kafka}"

    def stop(self, part: str) -> None:
        """Stop one part as an outage would (SIGTERM; `run("up")` starts it again)."""
        pid = self.pid(part)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while stack.alive(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)

    def wait_until_transcribing(self, timeout: float = 60) -> None:
        """Until the transcriber is in the middle of a call (its `callqa_transcriber_busy` gauge)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                metrics = httpx.get(f"{self.url('transcriber')}/metrics", timeout=2).text
            except httpx.HTTPError:
                metrics = ""
            for line in metrics.splitlines():
                if line.startswith("callqa_transcriber_busy ") and float(line.split()[1]) > 0:
                    return
            time.sleep(0.02)
        raise TimeoutError(f"the transcriber started no call in {timeout:.0f}s")

    def kill(self, part: str) -> None:
        """No clean-up at all (kill -9)."""
        os.kill(self.pid(part), signal.SIGKILL)

    def logs(self, lines: int = 30) -> str:
        """The end of every part's log, for a failure report."""
        return "\n".join(
            f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
            for log in sorted((self.home / "logs").glob("*.log"))
        )
