"""Architecture rules: the import-linter contract, no import cycles, no private cross-package imports.

Each checker takes the directory of a `digitrec` package, so the tests below run it on the real
tree and on a small target-layout package in a tmp dir, clean and with one planted violation (which
proves each check can fail). Nothing here imports digitrec, so the file stays fast.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from collections import deque
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "digitrec"
PYPROJECT = REPO / "pyproject.toml"  # [tool.importlinter] holds the contracts
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


# --- (a) the import-linter contract -------------------------------------------------------------


def lint_imports(package: Path, config: Path = PYPROJECT) -> subprocess.CompletedProcess[str]:
    """Run the contracts in `config` on the `digitrec` package in `package` (a directory)."""
    # grimp finds the root package on sys.path: put this copy ahead of the editable install.
    path = os.pathsep.join(filter(None, [str(package.parent), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(config)],
        cwd=package.parent,
        env={**os.environ, "PYTHONPATH": path, "COLUMNS": "200"},  # no wrapped module names
        capture_output=True,
        text=True,
        timeout=60,  # a few tenths of a second in practice
    )


# --- (b), (c) an AST walk, same semantics as shared/tools/import_cycles.py ------------------------
# Every import statement anywhere in a file counts: module level, in functions, under TYPE_CHECKING.


def _modules(package: Path) -> dict[str, Path]:
    """Dotted name -> file for every module under `package` (a package is named by its __init__)."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _is_private(part: str) -> bool:
    return part.startswith("_") and not part.startswith("__")


def _parent(name: str) -> str:
    return name.rpartition(".")[0]


def _walk_imports(package: Path):
    """Yield (modules, importer, import node, imported names) for every import statement.

    Imported names are dotted and absolute: for `from X import a, b` they are X, then X.a and X.b
    where those are modules.
    """
    mods = _modules(package)
    for importer, path in mods.items():
        # the package that holds the importer's code: relative imports and privacy start there
        home = importer if path.name == "__init__.py" else _parent(importer)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                yield mods, importer, home, node, [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0:
                    base = node.module or ""
                else:
                    parts = home.split(".")
                    parts = parts[: len(parts) - (node.level - 1)]
                    base = ".".join(parts + ([node.module] if node.module else []))
                subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in mods]
                yield mods, importer, home, node, [base, *subs]


def import_graph(package: Path) -> dict[str, dict[str, int]]:
    """importer -> {imported module: line} for imports between modules of `package`.

    A module importing the __init__ of a package that contains it is not counted (`from . import
    app` in cli/train.py, while cli/__init__.py imports cli.train lazily): the face of a package may
    import its own parts.
    """
    graph: dict[str, dict[str, int]] = {name: {} for name in _modules(package)}
    for mods, importer, _, node, names in _walk_imports(package):
        for name in names:
            while name and name not in mods:  # `import a.b.c` of a function or external name
                name = _parent(name)
            if not name or name == importer or not _inside(name, package.name):
                continue
            if mods[name].name == "__init__.py" and _inside(importer, name):
                continue
            graph[importer].setdefault(name, node.lineno)
    return graph


def _strong_components(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            component.append(v)
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def _one_cycle(graph: dict[str, dict[str, int]], component: list[str]) -> str:
    """The shortest cycle through the component's first module: `a:12 -> b:3 -> a` (a's line 12
    imports b, ...)."""
    start, members = component[0], set(component)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:  # breadth-first, back to `start`; a component always leads back
        v = queue.popleft()
        for w in sorted(graph[v]):
            if w in members and w not in came_from:
                came_from[w] = v
                if w == start:
                    queue.clear()
                    break
                queue.append(w)
    path = [start]
    while (v := came_from[path[-1]]) != start:
        path.append(v)
    path = [start, *reversed(path[1:]), start]
    return " -> ".join(f"{a}:{graph[a][b]}" for a, b in zip(path, path[1:])) + f" -> {start}"


def import_cycles(package: Path) -> list[str]:
    """One line per cycle of imports inside `package`: its modules, then one concrete loop."""
    graph = import_graph(package)
    return [
        f"cycle: {' <-> '.join(c)}\n    e.g. {_one_cycle(graph, c)}"
        for c in _strong_components(graph)
    ]


def private_imports(package: Path) -> list[str]:
    """Imports of another package's private names (`_x`) or private modules.

    A private name or module belongs to the package that holds it; that package and its
    subpackages may import it, nothing else may. (Stricter than the shared tool in one way: it
    also reports `import a._b` and `from a import _b` where `a._b` is a module.)
    """
    found = set()
    for mods, importer, home, node, names in _walk_imports(package):
        where = f"{importer}:{node.lineno}"
        for name in names:  # a private module anywhere on the path: `from ..vision._ink import`
            parts = name.split(".")
            for i, part in enumerate(parts):
                prefix = ".".join(parts[: i + 1])
                if _is_private(part) and prefix in mods and not _inside(home, _parent(prefix)):
                    found.add(f"{where} imports private module {prefix}")
                    break
        if isinstance(node, ast.ImportFrom) and names[0] in mods:
            base = names[0]
            owner = base if mods[base].name == "__init__.py" else _parent(base)
            for alias in node.names:
                if (
                    _is_private(alias.name)
                    and f"{base}.{alias.name}" not in mods
                    and not _inside(home, owner)
                ):
                    found.add(f"{where} imports private {base}.{alias.name}")
    return sorted(found)


# --- the rules, on the real tree ----------------------------------------------------------------


def test_import_contracts_hold():
    """`lint-imports` with pyproject's [tool.importlinter] contracts (the layers) passes."""
    result = lint_imports(PACKAGE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_import_cycles():
    cycles = import_cycles(PACKAGE)
    assert not cycles, "\n".join(cycles)


def test_no_private_cross_package_imports():
    found = private_imports(PACKAGE)
    assert not found, "\n".join(found)


# --- the checks themselves: a clean target-layout package passes, each planted violation fails ----

_SKELETON = {
    "__init__.py": """
        from .versions import __version__
        from .data import load_dataset
        from .predict import load_model
        from .models import create_model
        from .recipes import Recipe
    """,
    "__main__.py": "from .cli import main\n",
    "errors.py": "class DigitrecError(Exception): ...\n",
    "atomic.py": "from .faults import pause_point\ndef atomic_write(path): ...\n",
    "faults.py": "def pause_point(name): ...\n",
    "versions.py": "__version__ = '0'\n",
    "digest.py": "import hashlib\ndef file_sha256(path): ...\n",
    "recipes.py": "from .errors import DigitrecError\nclass Recipe: ...\n",
    "synth.py": "import numpy\n",
    "vision/__init__.py": "from .segment import split_digits\n",
    "vision/_ink.py": "class Ink: ...\n",
    "vision/segment.py": "from ._ink import Ink\nfrom digitrec.vision import _ink\ndef split_digits(): ...\n",
    "data/__init__.py": "from .datasets import load_dataset\n",
    "data/datasets.py": """
        from ..errors import DigitrecError
        def load_dataset(): ...
        def load_folder():
            from ..vision import split_digits  # lazy, and downwards: allowed
    """,
    "evaluation/__init__.py": "from ..errors import DigitrecError\n",
    "models/__init__.py": "from .registry import create_model\nfrom . import cnn\n",
    "models/registry.py": "_REGISTRY = {}\ndef create_model(): ...\n",
    "models/cnn.py": "from .registry import _REGISTRY\n",
    "models/checkpoint.py": "from ..versions import __version__\nfrom ..atomic import atomic_write\n",
    "scratch/__init__.py": "import numpy\n",
    "predict/__init__.py": "from .load import load_model\n",
    "predict/load.py": "from ..models import create_model\nfrom ..scratch import numpy\ndef load_model(): ...\n",
    "predict/torch.py": "from ..models.checkpoint import __version__\n",
    "export/__init__.py": "from ..predict import load_model\n",
    "training/__init__.py": "from .loop import fit\n",
    "training/loop.py": """
        from ..data import load_dataset
        from ..evaluation import DigitrecError
        from ..export import load_model
        from ..models import create_model
        from ..recipes import Recipe
        def fit(): ...
    """,
    "serve/__init__.py": "from ..predict import load_model\n",
    "cli/__init__.py": """
        import digitrec
        app = object()
        def main():
            from . import train  # the face imports its verbs lazily; train imports the face
    """,
    "cli/train.py": "from . import app\nfrom ..training import fit\nfrom ..serve import load_model\n",
}


@pytest.fixture
def skeleton(tmp_path: Path) -> Path:
    """A `digitrec` package in the target layout that keeps every rule."""
    package = tmp_path / "digitrec"
    for name, text in _SKELETON.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return package


def _plant(package: Path, name: str, text: str) -> None:
    """Append `text` to module `name` of `package` (creating it)."""
    path = package / name
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(old + textwrap.dedent(text).lstrip(), encoding="utf-8")


def test_checks_pass_on_the_clean_target_layout(skeleton):
    result = lint_imports(skeleton)
    assert result.returncode == 0, result.stdout + result.stderr
    assert import_cycles(skeleton) == []
    assert private_imports(skeleton) == []


@pytest.mark.parametrize(
    ("module", "text", "reported"),
    [
        # upwards, from inside a function: lazy imports count
        ("models/registry.py", "def late():\n    from digitrec.training import loop\n",
         "digitrec.models.registry -> digitrec.training.loop (l.4)"),
        # the root package's __init__ imports predict, so a lower layer must not import it
        ("models/checkpoint.py", "from .. import __version__\n",
         "digitrec.models.checkpoint -> digitrec (l.3)"),
        ("predict/torch.py", "from .. import __version__\n", "digitrec.predict.torch -> digitrec (l.2)"),
        ("errors.py", "import digitrec\n", "digitrec.errors -> digitrec (l.2)"),
        # siblings in an independent layer
        ("data/datasets.py", "from ..models import registry\n",
         "digitrec.data.datasets -> digitrec.models.registry (l.5)"),
        ("recipes.py", "def presets():\n    from .scratch import numpy\n",
         "digitrec.recipes -> digitrec.scratch (l.4)"),
        # every top-level module sits in a layer
        ("inference.py", "", "not listed as layers:\n\n- digitrec.inference"),
    ],
)
def test_contract_reports_a_planted_violation(skeleton, module, text, reported):
    _plant(skeleton, module, text)
    result = lint_imports(skeleton)
    assert result.returncode != 0 and "BROKEN" in result.stdout, result.stdout + result.stderr
    assert reported in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("module", "text", "cycle"),
    [
        # within a package, closed by a lazy import
        ("models/registry.py", "def builders():\n    from . import cnn\n",
         "digitrec.models.cnn <-> digitrec.models.registry"),
        # through another package's face
        ("errors.py", "def hint():\n    import digitrec.recipes\n",
         "digitrec.errors <-> digitrec.recipes"),
        ("vision/_ink.py", "from digitrec.data import load_dataset\n",
         "digitrec.data <-> digitrec.data.datasets <-> digitrec.vision <-> digitrec.vision._ink"
         " <-> digitrec.vision.segment"),
    ],
)
def test_cycle_check_reports_a_planted_cycle(skeleton, module, text, cycle):
    _plant(skeleton, module, text)
    cycles = import_cycles(skeleton)
    assert len(cycles) == 1 and cycles[0].startswith(f"cycle: {cycle}\n"), cycles
    print(cycles[0])


@pytest.mark.parametrize(
    ("module", "text", "reported"),
    [
        ("data/datasets.py", "from ..vision._ink import Ink\n",
         "digitrec.data.datasets:5 imports private module digitrec.vision._ink"),
        ("data/datasets.py", "from digitrec.vision import _ink\n",
         "digitrec.data.datasets:5 imports private module digitrec.vision._ink"),
        ("serve/__init__.py", "def f():\n    import digitrec.vision._ink\n",
         "digitrec.serve:3 imports private module digitrec.vision._ink"),
        ("training/loop.py", "from ..models.registry import _REGISTRY\n",
         "digitrec.training.loop:7 imports private digitrec.models.registry._REGISTRY"),
        ("training/loop.py", "from ..models import _REGISTRY\n",
         "digitrec.training.loop:7 imports private digitrec.models._REGISTRY"),
    ],
)
def test_private_check_reports_a_planted_import(skeleton, module, text, reported):
    _plant(skeleton, module, text)
    assert private_imports(skeleton) == [reported]
