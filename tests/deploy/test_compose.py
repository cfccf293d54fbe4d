"""docker-compose.yml, the image template (deploy/Dockerfile and its entry point deploy/container.py) and the
Postgres init script agree with the services' Settings.

Each service's compose `environment` is fed, interpolated, to its real `Settings` class, which must
validate in production mode. So a variable a new setting needs, a misspelt variable name (pydantic-settings
ignores unknown variables), or a development default secret fails here rather than at `docker compose up`.
Service directories and settings fields are discovered, not listed, so new services and fields are covered.
No Docker and no network: the files are only parsed.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from sqlalchemy.engine import make_url

from callqa.settings import Environment, ServiceSettings
from tests.deploy.service_settings import ROOT, SERVICES, env_prefix, package_of, settings_class

COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
INFRASTRUCTURE = ("kafka", "minio", "postgres")
# Scaled with `docker compose up --scale`: a container name or a fixed host port would make replicas collide.
SCALABLE = ("transcriber",)
REQUIRED_DEPENDENCIES = {
    "kafka": "service_healthy",
    "postgres": "service_healthy",
    "minio-init": "service_completed_successfully",
}

# Compose interpolation: `$$` escapes a dollar; `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`,
# `${VAR?message}`, `${VAR:+replacement}`, `${VAR+replacement}`, and bare `$VAR`.
_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?+])(?P<argument>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def required_variables() -> set[str]:
    """Variables compose refuses to start without (`${VAR:?...}`): the secrets an operator must set."""
    return {
        match["braced"]
        for text in _strings(COMPOSE)
        for match in _INTERPOLATION.finditer(text)
        if match["operator"] and match["operator"].endswith("?")
    }


# Required variables get a value no validator treats as a default; every other variable stays unset,
# so `${VAR:-default}` yields its default and a plain `${VAR}` yields "" (what compose does when unset).
OPERATOR_ENV = {name: f"dummy-{name.lower().replace('_', '-')}-" + "x" * 32 for name in required_variables()}


def interpolate(text: str, env: Mapping[str, str] = OPERATOR_ENV) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["bare"]
        operator, argument = match["operator"], match["argument"]
        value = env.get(name)
        # The colon forms treat an empty value like an unset one.
        is_set = value is not None and (value != "" or not (operator or "").startswith(":"))
        if operator is None:
            return value or ""
        if operator.endswith("-"):
            return value if is_set and value is not None else argument
        if operator.endswith("+"):
            return argument if is_set else ""
        if not is_set or value is None:
            raise AssertionError(f"compose would refuse to start: {name} is unset ({argument})")
        return value

    result = _INTERPOLATION.sub(substitute, text)
    assert "${" not in result, f"nested interpolation is not understood by this test: {text!r}"
    return result


def compose_service(name: str) -> dict[str, Any]:
    services: dict[str, dict[str, Any]] = COMPOSE["services"]
    assert name in services, f"docker-compose.yml has no service {name!r}"
    return services[name]


def raw_environment(service: str) -> dict[str, str]:
    """The service's `environment`, before interpolation (either the mapping or the KEY=VALUE list form)."""
    environment = compose_service(service).get("environment") or {}
    if isinstance(environment, list):
        environment = dict(entry.split("=", 1) for entry in environment)
    result = {}
    for key, value in environment.items():
        if value is None:  # `KEY:` passes the variable through from the host; nothing to check
            continue
        result[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return result


def compose_environment(service: str) -> dict[str, str]:
    return {key: interpolate(value) for key, value in raw_environment(service).items()}


def field_at(model: type[BaseModel], path: list[str]) -> FieldInfo | None:
    """The settings field an env variable sets: `KAFKA__BOOTSTRAP_SERVERS` -> kafka.bootstrap_servers."""
    field = model.model_fields.get(path[0])
    if field is None or len(path) == 1:
        return field
    nested = field.annotation
    if isinstance(nested, type) and issubclass(nested, BaseModel):
        return field_at(nested, path[1:])
    return None


def production_settings(service: str, monkeypatch: pytest.MonkeyPatch) -> ServiceSettings:
    """Instantiate the service's Settings with exactly its compose environment (nothing from this shell)."""
    settings = settings_class(service)
    prefix = env_prefix(settings).upper()
    for key in list(os.environ):
        if key.upper().startswith(prefix):
            monkeypatch.delenv(key)
    for key, value in compose_environment(service).items():
        monkeypatch.setenv(key, value)
    return settings()


def port_bindings(service: str) -> list[tuple[str | None, str | None, str]]:
    """(host_ip, published, target) for the short ("[IP:][HOST:]CONTAINER") and long port syntax."""
    bindings: list[tuple[str | None, str | None, str]] = []
    for entry in compose_service(service).get("ports", []):
        if isinstance(entry, dict):
            published = entry.get("published")
            bindings.append((entry.get("host_ip"), None if published is None else str(published), str(entry["target"])))
            continue
        parts = str(entry).split("/")[0].rsplit(":", 2)
        target = parts[-1]
        published = parts[-2] if len(parts) >= 2 else None
        host_ip = parts[0] if len(parts) == 3 else None
        bindings.append((host_ip, published, target))
    return bindings


def healthcheck_command(service: str) -> str:
    healthcheck = compose_service(service).get("healthcheck") or {}
    assert not healthcheck.get("disable"), f"{service}: healthcheck is disabled"
    test = healthcheck.get("test")
    assert test, f"{service}: healthcheck without a test command"
    if isinstance(test, list):
        assert test[0] in ("CMD", "CMD-SHELL"), f"{service}: healthcheck test {test!r}"
        assert len(test) > 1, f"{service}: healthcheck test {test!r} has no command"
        return " ".join(test[1:])
    return str(test)


def final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the last build stage, continuation lines joined and comments dropped."""
    instructions = []
    for line in dockerfile.read_text().replace("\\\n", " ").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    starts = [index for index, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    assert starts, f"{dockerfile} has no FROM"
    return instructions[starts[-1] :]


def dockerfile_of(service: str) -> Path:
    build = compose_service(service)["build"]
    return ROOT / str(build["context"]) / str(build["dockerfile"])


DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def load_container_script() -> ModuleType:
    """deploy/container.py, the images' entry point (a script copied into the image, not a package)."""
    spec = importlib.util.spec_from_file_location("callqa_container", ROOT / "deploy" / "container.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


container = load_container_script()


def copy_sources(dockerfile: Path, service: str) -> list[str]:
    """What the template copies from the build context, with the SERVICE build argument filled in."""
    sources = []
    for line in dockerfile.read_text().replace("\\\n", " ").splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(word.startswith("--from") for word in words):
            sources += [word.replace("${SERVICE}", service) for word in words[1:-1] if not word.startswith("--")]
    return sources


by_service = pytest.mark.parametrize("service", SERVICES)


def test_services_are_discovered() -> None:
    # Guards the discovery itself: an empty list would turn every parametrized test into a silent skip.
    assert len(SERVICES) >= 5, SERVICES


@by_service
def test_service_is_built_from_its_dockerfile(service: str) -> None:
    definition = compose_service(service)
    build = definition.get("build")
    assert isinstance(build, dict), f"{service}: expected build: {{context, dockerfile}}"
    # The context is the repository root so the image can copy libs/callqa next to the service.
    assert (ROOT / build["context"]).resolve() == ROOT
    # One template for every service; the build argument names the service.
    assert dockerfile_of(service) == DOCKERFILE
    assert build.get("args") == {"SERVICE": service}
    assert definition.get("image") == f"callqa/{service}:latest"


@by_service
def test_service_has_healthcheck_and_waits_for_healthy_infrastructure(service: str) -> None:
    assert "/healthz" in healthcheck_command(service)
    depends_on = compose_service(service).get("depends_on")
    assert isinstance(depends_on, dict), f"{service}: depends_on needs conditions, not a plain list"
    conditions = {name: (spec or {}).get("condition") for name, spec in depends_on.items()}
    for name, condition in REQUIRED_DEPENDENCIES.items():
        assert conditions.get(name) == condition, f"{service}: depends_on {name} should be {condition}"


@by_service
def test_compose_environment_validates_as_production_settings(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings_cls = settings_class(service)
    prefix = env_prefix(settings_cls)
    raw = raw_environment(service)
    for key, value in raw.items():
        # A variable with another service's prefix, or naming no field, would be silently ignored.
        assert key.startswith(prefix), f"{service}: {key} lacks the prefix {prefix}"
        field = field_at(settings_cls, key.removeprefix(prefix).lower().split("__"))
        assert field is not None, f"{service}: {key} matches no field of {settings_cls.__name__}"
        # Secrets come from the operator's environment (.env), never from the committed file.
        if field.annotation in (SecretStr, SecretStr | None):
            assert "${" in value, f"{service}: {key} is a secret written into docker-compose.yml"

    settings = production_settings(service, monkeypatch)  # raises if a required or safe value is missing

    assert settings.environment is Environment.production
    # The container listens where its healthcheck and port mapping look.
    assert str(settings.http_port) in healthcheck_command(service), f"{service}: healthcheck misses the HTTP port"
    for _, _, target in port_bindings(service):
        assert target == str(settings.http_port), f"{service}: publishes {target}, listens on {settings.http_port}"


@by_service
def test_settings_point_at_compose_services(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = production_settings(service, monkeypatch)
    services = COMPOSE["services"]
    database = make_url(settings.database_url)
    assert database.host in services, f"{service}: database host {database.host!r} is not a compose service"
    for server in settings.kafka.bootstrap_servers.split(","):
        assert server.rsplit(":", 1)[0] in services, f"{service}: Kafka server {server!r} is not a compose service"
    assert settings.s3.endpoint.rsplit(":", 1)[0] in services
    # Each database a service uses must be created by the init script (one database per service).
    init_sql = (ROOT / "deploy" / "postgres" / "init.sql").read_text()
    name = re.escape(str(database.database))
    assert re.search(rf"CREATE DATABASE\s+\"?{name}\"?\s*;", init_sql, re.IGNORECASE), (
        f"{service}: deploy/postgres/init.sql does not create database {database.database!r}"
    )


@by_service
def test_recordings_bucket_is_created_with_object_lock(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = production_settings(service, monkeypatch)
    if not settings.s3.object_lock:  # e.g. the transcriber's own bucket: it creates it, no lock needed
        assert settings.s3.bucket != "callqa", f"{service} would write into the recordings bucket"
        return
    init = compose_service("minio-init")
    assert (init.get("depends_on") or {}).get("minio", {}).get("condition") == "service_healthy"
    command = " ".join(_strings([init.get("entrypoint"), init.get("command")]))
    # Object lock can only be enabled when a bucket is created, so `mc mb` itself must ask for it.
    creations = [line for line in re.split(r"&&|;|\n", command) if re.search(r"\bmc\s+mb\b", line)]
    assert any("--with-lock" in line and f"/{settings.s3.bucket}" in line for line in creations), command


@pytest.mark.parametrize("service", SCALABLE)
def test_scalable_service_has_no_fixed_name_or_host_port(service: str) -> None:
    definition = compose_service(service)
    assert "container_name" not in definition
    assert not [binding for binding in port_bindings(service) if binding[1]], "a fixed host port blocks --scale"


def test_every_published_port_is_bound_to_loopback() -> None:
    for name in COMPOSE["services"]:
        for host_ip, published, target in port_bindings(name):
            assert host_ip == "127.0.0.1", f"{name}: port {published}:{target} is reachable from other hosts"


@pytest.mark.parametrize("service", INFRASTRUCTURE)
def test_infrastructure_has_healthcheck(service: str) -> None:
    assert healthcheck_command(service)


def test_env_example_lists_every_required_variable() -> None:
    example = (ROOT / ".env.example").read_text()
    listed = {line.split("=", 1)[0].strip() for line in example.splitlines() if "=" in line and line[0] != "#"}
    assert required_variables() <= listed, f"missing from .env.example: {required_variables() - listed}"


def test_the_template_runs_every_service_the_same_way() -> None:
    stage = final_stage(DOCKERFILE)
    keywords = [keyword for keyword, _ in stage]
    arguments = {keyword: " ".join(args for kw, args in stage if kw == keyword) for keyword in keywords}

    assert stage[0][1].split()[0] == "python:3.11-slim"
    assert "HEALTHCHECK" in keywords, "the image has no HEALTHCHECK"
    assert '"/opt/callqa/container.py", "healthcheck"' in arguments["HEALTHCHECK"]
    user = arguments.get("USER", "root").split(":")[0]
    assert user not in ("root", "0"), "the image runs as root"
    assert arguments["ENTRYPOINT"] == '["python", "/opt/callqa/container.py"]'
    assert arguments["CMD"] == '["migrate", "serve"]'
    # Only the SERVICE build argument varies; a build without it stops at once.
    assert 'test -n "$SERVICE"' in DOCKERFILE.read_text()


@by_service
def test_the_template_copies_what_the_service_needs_from_the_build_context(service: str) -> None:
    ignored = [
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = copy_sources(DOCKERFILE, service)
    assert f"services/{service}" in sources
    for source in sources:
        assert (ROOT / source).exists(), f"{service}: COPY {source}: not in the repository"
        top = source.split("/")[0]
        assert top not in ignored and source not in ignored, f"{service}: COPY {source}: excluded by .dockerignore"
    assert ".env" in ignored, "the operator's secrets (.env) would be sent to the Docker daemon"


@by_service
def test_the_image_entry_point_matches_settings(service: str) -> None:
    settings_cls = settings_class(service)
    package = package_of(service)
    facts = container.describe(service)
    prefix = env_prefix(settings_cls)
    assert facts == {
        "service": service,
        "package": package,
        "env_prefix": prefix,
        "http_port": settings_cls.model_fields["http_port"].default,
    }
    assert (ROOT / "services" / service / "src" / package / "__main__.py").is_file()
    # Inside a container the default 127.0.0.1 would make the service unreachable; an operator's value wins.
    host = f"{prefix}HTTP_HOST"
    assert container.container_environment(facts, {})[host] == "0.0.0.0"
    assert container.container_environment(facts, {host: "10.0.0.5"})[host] == "10.0.0.5"
    assert container.command_lines(facts, ["migrate", "serve"], "python") == [
        ["python", "-m", package, "migrate"],
        ["python", "-m", package, "serve"],
    ]
    with pytest.raises(SystemExit):
        container.command_lines(facts, ["shell"], "python")
    port = settings_cls.model_fields["http_port"].default
    assert container.healthz_url(facts, {}) == f"http://127.0.0.1:{port}/healthz"
    assert container.healthz_url(facts, {f"{prefix}HTTP_PORT": "9000"}) == "http://127.0.0.1:9000/healthz"


def test_audio_images_have_ffmpeg_and_the_transcriber_its_models() -> None:
    text = DOCKERFILE.read_text()
    # Both decode audio: the template installs ffmpeg for exactly these services.
    assert "recorder-ingest|transcriber)" in text
    assert "install -y --no-install-recommends ffmpeg" in text
    assert '[ "$SERVICE" = transcriber ]; then python -m transcriber.weights' in text
    assert "CALLQA_TRANSCRIBER_ASR__MODELS_DIR=/opt/models" in text
