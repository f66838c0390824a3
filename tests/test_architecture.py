"""The architecture rules a reviewer would otherwise check by eye (docs/design.md, "Layers").

- Private names (a leading underscore) never cross a module border: `from x import _name` couples a
  caller to another module's internals, which is what splitting services into use-case files breaks.
- Nothing in the repository points at a file outside it: a clean clone must be complete.
- Functions stay under 80 lines and modules under ~600 (650 with tolerance) in app code, so a
  newcomer can read a use case in one go.
The import direction itself is import-linter's job (`lint-imports`, contracts in pyproject.toml).
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".venv", ".git", "node_modules", "__pycache__", ".pytest_cache", "staticfiles", "media"}
APP_PACKAGES = (
    "core",
    "privacyops",
    "audit",
    "inventory",
    "notices",
    "consent",
    "retention",
    "disclosures",
    "requests_app",
    "connectors",
)
# Seed and demo data are tables of rows, not logic: long by nature.
DATA_FILES = {"inventory/demo.py", "inventory/management/commands/seed_demo.py"}
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 650
TEXT_SUFFIXES = {".py", ".md", ".txt", ".toml", ".yml", ".yaml", ".html", ".cfg", ".ini", ".example", ".json"}
TEXT_NAMES = {"Makefile", "Dockerfile", "run"}
# References to files outside the repository (the team's shared notes, home or work directories).
# Built from pieces so this file does not match itself.
OUTSIDE_REFERENCES = [
    re.compile(re.escape("../" + "shared")),
    re.compile(r"(?<!docs/)" + "REGULATIONS" + r"\.md"),
    re.compile("BRIEF" + r"\.md"),
    re.compile(r"(?<!docs/)" + "DESIGN" + r"\.md"),
    re.compile("seed-privacy-" + r"policy\.txt"),
    re.compile(r"(?<![\w.])/" + "work/"),
    re.compile(r"(?<![\w.])/" + "home/"),
]


def _walk(suffixes: set[str] | None = None, names: set[str] | None = None) -> list[Path]:
    found = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if any(part in SKIP_DIRS for part in rel.parts) or not path.is_file():
            continue
        if (suffixes and path.suffix in suffixes) or (names and path.name in names):
            found.append(path)
    return sorted(found)


def python_files() -> list[Path]:
    return _walk({".py"})


def app_code_files() -> list[Path]:
    files = []
    for path in python_files():
        rel = path.relative_to(ROOT)
        if rel.parts[0] not in APP_PACKAGES or "migrations" in rel.parts or rel.as_posix() in DATA_FILES:
            continue
        files.append(path)
    return files


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(path: Path) -> list[str]:
    """`from X import _name` where X is another module (any import of a private name is one)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = _module_name(path)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        source = ("." * node.level) + (node.module or "")
        if node.level == 0 and node.module == here:
            continue
        for alias in node.names:
            if _is_private(alias.name):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} from {source} import {alias.name}")
    return found


def test_no_module_imports_a_private_name_from_another_module():
    violations = [v for path in python_files() for v in private_imports(path)]
    assert not violations, "private names imported across modules:\n" + "\n".join(violations)


def test_nothing_in_the_repository_references_a_path_outside_it():
    this_file = Path(__file__).resolve()
    violations = []
    for path in _walk(TEXT_SUFFIXES, TEXT_NAMES):
        if path == this_file or "migrations" in path.parts:
            continue  # old migrations are never edited
        for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if any(pattern.search(line) for pattern in OUTSIDE_REFERENCES):
                violations.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()[:100]}")
    assert not violations, "references to files outside the repository:\n" + "\n".join(violations)


def test_no_function_in_app_code_is_over_80_lines():
    violations = []
    for path in app_code_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    violations.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}() {length} lines")
    assert not violations, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(violations)


def test_no_app_module_is_over_600_lines():
    violations = []
    for path in app_code_files():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            violations.append(f"{path.relative_to(ROOT)} {lines} lines")
    assert not violations, (
        f"modules over {MAX_MODULE_LINES} lines (split into use-case files):\n" + "\n".join(violations)
    )


def test_the_checks_see_the_project_and_catch_what_they_are_for(tmp_path):
    """Guards the guards: the walk finds the apps, and each rule flags a planted example."""
    assert any(p.relative_to(ROOT).parts[0] == "requests_app" for p in app_code_files())
    assert not any("migrations" in p.parts for p in app_code_files())
    planted = ROOT / "core" / "__init__.py"
    assert _module_name(planted) == "core"
    sample = tmp_path / "sample.py"
    sample.write_text("from a.b import _hidden, __version__, public\nfrom . import _x\n")
    tree_hits = [
        alias.name
        for node in ast.walk(ast.parse(sample.read_text()))
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if _is_private(alias.name)
    ]
    assert tree_hits == ["_hidden", "_x"]
    assert any(p.search("see " + "REGULATIONS" + ".md") for p in OUTSIDE_REFERENCES)
    assert any(p.search("cd /" + "work/main") for p in OUTSIDE_REFERENCES)
    assert not any(p.search("see docs/regulations.md and docs/design.md") for p in OUTSIDE_REFERENCES)
