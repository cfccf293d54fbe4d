"""deploy/k8s agrees with the services' Settings and with the image's entry point (deploy/container.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.service_settings import SERVICES, env_prefix, settings_class

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"


def documents(service: str) -> dict[str, dict[str, Any]]:
    loaded = [doc for doc in yaml.safe_load_all((K8S / f"{service}.yaml").read_text()) if doc]
    return {doc["kind"]: doc for doc in loaded}


def test_kustomization_lists_every_service() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert set(kustomization["resources"]) == {"namespace.yaml", *(f"{service}.yaml" for service in SERVICES)}
    assert {image["name"] for image in kustomization["images"]} == {f"callqa/{service}" for service in SERVICES}


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_matches_the_image_and_settings(service: str) -> None:
    settings = settings_class(service)
    port = settings.model_fields["http_port"].default
    manifests = documents(service)
    pod = manifests["Deployment"]["spec"]["template"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    (init,) = pod["spec"]["initContainers"]
    (server,) = pod["spec"]["containers"]
    # `args` go to the image's entry point, which also makes the server listen on all interfaces;
    # a `command` would bypass it.
    assert (init.get("command"), init["args"]) == (None, ["migrate"])
    assert (server.get("command"), server["args"]) == (None, ["serve"])
    for container in (init, server):
        assert container["image"] == f"callqa/{service}:latest"
        assert {source["prefix"] for source in container["envFrom"]} == {env_prefix(settings)}
    assert [p["containerPort"] for p in server["ports"]] == [port]
    assert [p["port"] for p in manifests["Service"]["spec"]["ports"]] == [port]


def consumes(service: str) -> bool:
    """Whether the service runs a consumer group (callqa.service.EventWorker, built in its create_app)."""
    return any("EventWorker(" in path.read_text() for path in (ROOT / "services" / service / "src").glob("*/main.py"))


def test_only_consuming_services_scale_on_consumer_lag() -> None:
    scaled = {service for service in SERVICES if "ScaledObject" in documents(service)}
    assert scaled == {"transcriber"}
    assert all(consumes(service) for service in scaled)
