"""The entry point of every callqa image (deploy/Dockerfile): `container.py [COMMAND ...]`.

An image holds one service, named when it is built (`--build-arg SERVICE=scorer`). The build runs
`container.py describe SERVICE`, which records what the service's Settings say (its package, env prefix
and HTTP port) in service.json beside this file, so the template names no port or prefix and, at run
time, this script needs nothing but the standard library:

    container.py migrate serve    the image's default: migrate to head, then hand PID 1 to the server
    container.py migrate          one of them (Kubernetes: `args: [migrate]` in the init container)
    container.py serve
    container.py healthcheck      GET /healthz on the service's port; non-zero exit unless it answers 2xx

Inside a container a service listens on all interfaces (`<PREFIX>HTTP_HOST=0.0.0.0` unless set):
publishing the port, or a Kubernetes Service, decides who can reach it.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

FACTS = Path(__file__).resolve().with_name("service.json")
COMMANDS = ("migrate", "serve")


def describe(service: str) -> dict[str, Any]:
    """What the image needs to know of `service` (a directory under services/), read from its Settings."""
    package = service.replace("-", "_")
    settings = importlib.import_module(f"{package}.config").Settings
    return {
        "service": service,
        "package": package,
        "env_prefix": settings.model_config["env_prefix"],
        "http_port": settings.model_fields["http_port"].default,
    }


def container_environment(facts: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """The environment with the container's defaults added; what the operator set wins."""
    return {f"{facts['env_prefix']}HTTP_HOST": "0.0.0.0", **environ}


def command_lines(facts: Mapping[str, Any], commands: Sequence[str], python: str) -> list[list[str]]:
    unknown = [command for command in commands if command not in COMMANDS]
    if not commands or unknown:
        raise SystemExit(f"usage: container.py [{'|'.join(COMMANDS)} ...] | healthcheck | describe SERVICE")
    return [[python, "-m", facts["package"], command] for command in commands]


def healthz_url(facts: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    port = environ.get(f"{facts['env_prefix']}HTTP_PORT") or facts["http_port"]
    return f"http://127.0.0.1:{port}/healthz"


def main(argv: Sequence[str]) -> None:
    if argv[:1] == ["describe"] and len(argv) == 2:
        print(json.dumps(describe(argv[1])))
        return
    facts = json.loads(FACTS.read_text())
    if list(argv) == ["healthcheck"]:
        try:
            # http://127.0.0.1 only (healthz_url); raises on a refused connection or a non-2xx answer.
            urllib.request.urlopen(healthz_url(facts, os.environ), timeout=3)  # noqa: S310
        except Exception as exc:
            raise SystemExit(f"unhealthy: {exc}") from None
        return
    os.environ.update(container_environment(facts, os.environ))
    *first, last = command_lines(facts, argv, sys.executable)
    for line in first:
        completed = subprocess.run(line, check=False)  # e.g. migrate: idempotent, upgrades to head
        if completed.returncode:
            raise SystemExit(completed.returncode)
    os.execv(last[0], last)  # noqa: S606 (the server becomes PID 1, so SIGTERM reaches it directly)


if __name__ == "__main__":
    main(sys.argv[1:])
