"""The local stack: ministack (durable S3), Tansu on its s3:// engine, and the services.

State lives in `.callqa/` (data, logs, pids); `up` is idempotent, `down` stops only the
processes recorded in `.callqa/stack.json`, and data survives `down` + `up`.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from minio import Minio
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from callqa_stack import servers

STATE_DIR = Path(os.environ.get("CALLQA_HOME", servers.REPO_ROOT / ".callqa"))
TANSU_BUCKET = "tansu"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    package: str
    prefix: str
    port: int


SERVICES = (
    ServiceSpec("recorder-ingest", "recorder_ingest", "CALLQA_INGEST_", 8001),
    ServiceSpec("transcriber", "transcriber", "CALLQA_TRANSCRIBER_", 8002),
    ServiceSpec("scorer", "scorer", "CALLQA_SCORER_", 8003),
    ServiceSpec("coaching", "coaching", "CALLQA_COACHING_", 8004),
    ServiceSpec("reporting", "reporting", "CALLQA_REPORTING_", 8005),
    ServiceSpec("console", "console", "CALLQA_CONSOLE_", 8006),
)

# The console's development users: one per role, and the sample calls' agents (their agent ids as user names).
CONSOLE_USERS = {
    "qa": ["qa_analyst"],
    "supervisor": ["supervisor"],
    "trainer": ["trainer"],
    "auditor": ["auditor"],
    "admin": ["admin"],
    **{agent: ["agent"] for agent in ("agent-en-104", "agent-en-087", "agent-en-112", "agent-zh-017", "agent-zh-022")},
}


@dataclass
class Ports:
    s3: int = int(os.environ.get("CALLQA_STACK_S3_PORT", "4566"))
    kafka: int = int(os.environ.get("CALLQA_STACK_KAFKA_PORT", "9092"))
    services: dict[str, int] = field(
        default_factory=lambda: {
            s.name: int(os.environ.get(f"CALLQA_STACK_{s.package.upper()}_PORT", str(s.port))) for s in SERVICES
        }
    )


@dataclass
class StackState:
    ports: Ports
    pids: dict[str, int]
    secrets: dict[str, str]

    def save(self) -> None:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        (STATE_DIR / "stack.json").write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, home: Path | None = None) -> StackState | None:
        """The stack recorded in `home` (default: this checkout's .callqa/ or $CALLQA_HOME)."""
        path = (home or STATE_DIR) / "stack.json"
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        ports = Ports(**raw["ports"])
        # A stack recorded before a service was added (the console) gets that service's port now.
        ports.services = Ports().services | ports.services
        return cls(ports, raw["pids"], raw["secrets"])


def local_secrets() -> dict[str, str]:
    """Development credentials, made once per checkout and kept in .callqa/secrets.json."""
    path = STATE_DIR / "secrets.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    values = {
        "jwt_secret": secrets.token_urlsafe(32),
        "ingest_api_key": "dev-ingest-" + secrets.token_urlsafe(12),
        "admin_api_key": "dev-admin-" + secrets.token_urlsafe(12),
    }
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, indent=2))
    path.chmod(0o600)
    return values


def alive(pid: int) -> bool:
    try:
        # A child of this very process (the demo started the stack) lingers as a zombie until reaped.
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not our child: started by an earlier `./run stack up`
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Killed, but not yet reaped by whoever adopted it (init need not do it at once)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc: trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def service_database_url(package: str) -> str:
    """SQLite per service by default; with DATABASE_URL, one PostgreSQL database per service."""
    base = os.environ.get("DATABASE_URL")
    if not base:
        return f"sqlite:///{STATE_DIR / 'data' / f'{package}.db'}"
    url = make_url(base)
    if url.drivername.startswith("sqlite"):
        return base
    name = f"{url.database or 'callqa'}_{package}"
    admin = create_engine(url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def console_logins() -> dict[str, dict[str, object]]:
    """The console's development logins (user -> password and roles), made once and kept in .callqa/."""
    path = STATE_DIR / "console-users.json"
    if path.exists():
        stored: dict[str, dict[str, object]] = json.loads(path.read_text())
        return stored
    logins: dict[str, dict[str, object]] = {
        name: {"password": secrets.token_urlsafe(9), "roles": roles} for name, roles in CONSOLE_USERS.items()
    }
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(logins, indent=2))
    path.chmod(0o600)
    return logins


def service_env(spec: ServiceSpec, ports: Ports, values: dict[str, str]) -> dict[str, str]:
    p = spec.prefix
    upstreams = {}
    if spec.name == "console":  # the console calls the other services' APIs
        upstreams = {
            f"{p}UPSTREAMS__{key.upper()}": f"http://127.0.0.1:{ports.services[name]}"
            for key, name in (
                ("ingest", "recorder-ingest"),
                ("scorer", "scorer"),
                ("coaching", "coaching"),
                ("reporting", "reporting"),
            )
        }
    return upstreams | {
        f"{p}ENVIRONMENT": "development",
        f"{p}DATABASE_URL": service_database_url(spec.package),
        f"{p}HTTP_PORT": str(ports.services[spec.name]),
        f"{p}KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{ports.kafka}",
        f"{p}S3__ENDPOINT": f"127.0.0.1:{ports.s3}",
        f"{p}AUTH__JWT_SECRET": values["jwt_secret"],
        f"{p}AUTH__API_KEYS": ";".join(
            (f"{values['ingest_api_key']}=telephony:ingest", f"{values['admin_api_key']}=local-admin:admin")
        ),
    }


COMPONENTS = ("ministack", "tansu", *(spec.name for spec in SERVICES))  # in start order


def up(ports: Ports | None = None) -> StackState:
    """Start every part that is not running (all of them the first time); the running ones stay."""
    state = StackState.load()
    if state is None:
        state = StackState(ports or Ports(), {}, local_secrets())
    for name in COMPONENTS:
        pid = state.pids.get(name)
        if pid is None or not alive(pid):
            start(state, name)
    wait_ready(state.ports)
    return state


def start(state: StackState, name: str) -> None:
    """Start one part of the stack and record its pid (services are migrated first)."""
    logs = STATE_DIR / "logs"
    ports = state.ports
    if name == "ministack":
        server = servers.ministack(ports.s3, logs / "ministack.log", STATE_DIR / "data" / "s3")
    elif name == "tansu":
        _ensure_bucket(ports.s3, TANSU_BUCKET)
        server = servers.tansu(
            ports.kafka, logs / "tansu.log", storage=f"s3://{TANSU_BUCKET}/", s3_endpoint=f"http://127.0.0.1:{ports.s3}"
        )
    else:
        spec = next(s for s in SERVICES if s.name == name)
        env = service_env(spec, ports, state.secrets)
        command = [sys.executable, "-m", spec.package]
        subprocess.run([*command, "migrate"], env={**os.environ, **env}, check=True, cwd=servers.REPO_ROOT)
        if name == "console":
            users = [{"username": u, **login} for u, login in console_logins().items()]
            subprocess.run(
                [*command, "users", "seed"],
                input=json.dumps(users).encode(),
                env={**os.environ, **env},
                check=True,
                cwd=servers.REPO_ROOT,
            )
        server = servers.Server(spec.name, [*command, "serve"], ports.services[name], logs / f"{name}.log", env)
    server.start(timeout=60)
    state.pids[name] = server.pid
    state.save()  # at once, so `down` can stop it if a later step fails


def restart(name: str) -> None:
    """Stop one part gracefully and start it again (its data stays)."""
    state = StackState.load()
    if state is None or name not in COMPONENTS:
        raise ValueError(f"no running stack, or no part called {name!r} (parts: {', '.join(COMPONENTS)})")
    if (pid := state.pids.get(name)) is not None:
        _terminate(pid)
    start(state, name)
    wait_ready(state.ports)


def _ensure_bucket(port: int, bucket: str) -> None:
    client = Minio(
        f"127.0.0.1:{port}", servers.S3_ACCESS_KEY, servers.S3_SECRET_KEY, secure=False, region=servers.S3_REGION
    )
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket)


def wait_ready(ports: Ports, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for name, port in ports.services.items():
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not ready on port {port}; see {STATE_DIR / 'logs' / f'{name}.log'}")
            time.sleep(0.2)


def down() -> None:
    state = StackState.load()
    if state is None:
        return
    # Services first (they flush to the broker and store), the broker before its object store.
    for name in reversed(list(state.pids)):
        _terminate(state.pids[name])
    (STATE_DIR / "stack.json").unlink(missing_ok=True)


def _terminate(pid: int) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if not alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not alive(pid):
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def status() -> list[tuple[str, str, str]]:
    """(component, state, where) rows."""
    state = StackState.load()
    if state is None:
        return [("stack", "down", str(STATE_DIR))]
    ports = {"ministack": state.ports.s3, "tansu": state.ports.kafka, **state.ports.services}
    rows = []
    for name, pid in state.pids.items():
        running = alive(pid) and servers.port_open(ports[name])
        where = f"127.0.0.1:{ports[name]}"
        if name in state.ports.services:
            where = f"http://{where}/docs"
        rows.append((name, f"up (pid {pid})" if running else "DOWN", where))
    return rows
