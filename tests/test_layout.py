"""How tests and benchmarks may import, checked on their source (`ast`), so that the layout stays as it is:

- no module under tests/ imports a test module (`test_*.py`) or a `conftest.py`: fixtures reach tests through
  pytest's conftest discovery, plain helpers live in helper modules (`tests/helpers.py`, `tests/<area>/helpers.py`);
- a library test (tests/libs/) imports no service package: the library is tested on its own;
- a benchmark imports nothing from `tests` and leaves `sys.path` (and PYTHONPATH) alone: what it shares with the
  tests lives in an installed package (`callqa_stack`).

Imports are found in `import` statements, in `importlib.import_module(...)`/`__import__(...)` calls with a literal
name, and in string literals holding Python code (`python -c "from tests... import ..."`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
BENCHMARKS = ROOT / "benchmarks"
SERVICE_PACKAGES = frozenset(init.parent.name for init in ROOT.glob("services/*/src/*/__init__.py"))
_CODE_IMPORT = re.compile(r"(?:^|[\s;])(?:from|import)\s+([A-Za-z_][\w.]*)")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of everything `source` (the code of `module`) imports; `from a import b` gives
    both `a` and `a.b`, since b may be a module."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)] if package else []
                base = ".".join([*anchor, *([base] if base else [])])
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for match in _CODE_IMPORT.finditer(node.value):
                yield node.lineno, match[1]


def source_file(dotted: str) -> Path | None:
    """The repository file a dotted name lands in (the longest prefix that is a module), if any."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:end])
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def is_test_module(dotted: str) -> bool:
    found = source_file(dotted) if dotted.split(".")[0] == "tests" else None
    return found is not None and (found.name.startswith("test_") or found.name == "conftest.py")


def once_per_line(hits: Iterator[tuple[int, str]]) -> list[tuple[int, str]]:
    """The first hit of each line (`from a import b, c` is one import of `a`, not three)."""
    first: dict[int, str] = {}
    for line, name in hits:
        first.setdefault(line, name)
    return sorted(first.items())


def find_test_module_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    hits = once_per_line(
        (line, str(source_file(name)))
        for line, name in imported_modules(source, module, is_package=is_package)
        if is_test_module(name)
    )
    return [f"line {line}: imports {Path(path).relative_to(ROOT)}" for line, path in hits]


def find_service_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    hits = once_per_line(
        (line, name)
        for line, name in imported_modules(source, module, is_package=is_package)
        if name.split(".")[0] in SERVICE_PACKAGES
    )
    return [f"line {line}: imports the service package {name.split('.')[0]} ({name})" for line, name in hits]


def find_benchmark_problems(source: str, module: str, is_package: bool = False) -> list[str]:
    hits = once_per_line(
        (line, name)
        for line, name in imported_modules(source, module, is_package=is_package)
        if name.split(".")[0] == "tests"
    )
    found = [f"line {line}: imports {name} (a benchmark cannot import the tests)" for line, name in hits]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", None) == "sys":
            found.append(f"line {node.lineno}: touches sys.path")
        elif isinstance(node, ast.ImportFrom) and node.module == "sys" and any(a.name == "path" for a in node.names):
            found.append(f"line {node.lineno}: imports sys.path")
        elif isinstance(node, ast.Attribute) and node.attr == "addsitedir":
            found.append(f"line {node.lineno}: adds a site directory")
        elif isinstance(node, ast.Constant) and node.value == "PYTHONPATH":
            found.append(f"line {node.lineno}: sets PYTHONPATH")
    return found


def python_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*.py") if "__pycache__" not in path.parts)


Check = Callable[[str, str, bool], list[str]]


def report(files: list[Path], check: Check) -> list[str]:
    problems: list[str] = []
    for path in files:
        found = check(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")
        problems += [f"{path.relative_to(ROOT)}: {problem}" for problem in found]
    return problems


def test_no_test_module_imports_another_test_module_or_a_conftest() -> None:
    problems = report(python_files(TESTS), find_test_module_imports)
    assert not problems, "move shared fixtures into a conftest.py, plain helpers into a helpers module:\n" + "\n".join(
        problems
    )


def test_library_tests_import_no_service() -> None:
    assert {"recorder_ingest", "transcriber", "scorer"} <= SERVICE_PACKAGES, SERVICE_PACKAGES
    problems = report(python_files(TESTS / "libs"), find_service_imports)
    assert not problems, "test the library on its own pieces, or move the test to the service:\n" + "\n".join(problems)


def test_benchmarks_import_no_tests_and_leave_sys_path_alone() -> None:
    benchmarks = python_files(BENCHMARKS)
    assert benchmarks
    problems = report(benchmarks, find_benchmark_problems)
    assert not problems, "share code through an installed package (callqa_stack):\n" + "\n".join(problems)


# --- the checks themselves catch what they are for ------------------------------------------------------------

OTHER_TEST = "tests.libs." + "test_bus"  # built, so that this file's own literals hold no such import
A_CONFTEST = "tests.scorer." + "conftest"


@pytest.mark.parametrize(
    "source",
    [
        f"from {OTHER_TEST} import wait_until",
        f"import {OTHER_TEST}",
        f"import {OTHER_TEST} as bus",
        "from tests.libs import " + "test_bus",
        f"from {A_CONFTEST} import env_settings",
        "from tests " + "import conftest",
        "from . import " + "test_bus",
        "from ." + "test_bus import wait_until",
        "from .." + "conftest import fast_kafka_settings",
        f"importlib.import_module('{A_CONFTEST}')",
        f"subprocess.run([sys.executable, '-c', 'import json; from {OTHER_TEST} import x'])",
    ],
)
def test_the_guard_finds_imports_of_test_modules(source: str) -> None:
    assert find_test_module_imports(source, "tests.libs.test_outbox")


@pytest.mark.parametrize(
    "source",
    [
        "from tests.helpers import read_all",
        "from tests.scorer.helpers import GOOD_CALL",
        "from tests import helpers",
        "from tests.authz_matrix import SERVICES",
        "from callqa_stack.factories import recording_stored",
        "from .helpers import read_all",
        "text = 'nothing to import here'",
    ],
)
def test_the_guard_lets_helper_imports_through(source: str) -> None:
    assert find_test_module_imports(source, "tests.libs.test_outbox") == []


def test_the_guard_finds_services_in_library_tests() -> None:
    assert find_service_imports("from recorder_ingest.config import Settings", "tests.libs.test_auth")
    assert find_service_imports("def f():\n    import scorer.rules\n", "tests.libs.test_auth")
    assert find_service_imports("from callqa.settings import ServiceSettings", "tests.libs.test_auth") == []


@pytest.mark.parametrize(
    "source",
    [
        "import sys\nsys.path.insert(0, 'x')",
        "import sys\nsys.path.append('x')",
        "from sys import path",
        "import site\nsite.addsitedir('x')",
        "env = {'PYTHON' 'PATH': '.'}",
        "from tests.factories import recording_stored",
        "import importlib\nimportlib.import_module('tests.factories')",
    ],
)
def test_the_guard_finds_what_benchmarks_must_not_do(source: str) -> None:
    assert find_benchmark_problems(source, "benchmarks.bus")


def test_the_guard_lets_a_benchmark_import_installed_packages_and_its_siblings() -> None:
    source = "import sys\nimport accuracy_audio as common\nfrom callqa_stack.labelled import load_all\nsys.exit(0)"
    assert find_benchmark_problems(source, "benchmarks.asr_hotwords") == []
