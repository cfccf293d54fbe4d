"""The services as deployment files see them: their names, packages and settings classes."""

from __future__ import annotations

import importlib
from pathlib import Path

from callqa.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(path.name for path in (ROOT / "services").iterdir() if (path / "pyproject.toml").is_file())


def package_of(service: str) -> str:
    configs = list((ROOT / "services" / service / "src").glob("*/config.py"))
    assert len(configs) == 1, f"expected one src/<package>/config.py in services/{service}, found {configs}"
    return configs[0].parent.name


def settings_class(service: str) -> type[ServiceSettings]:
    settings: type[ServiceSettings] = importlib.import_module(f"{package_of(service)}.config").Settings
    assert issubclass(settings, ServiceSettings)
    return settings


def env_prefix(settings: type[ServiceSettings]) -> str:
    return str(settings.model_config.get("env_prefix", ""))
