"""The package's structure: layers that import only downwards, no import circle, small modules
and classes, every attribute declared in ``__init__`` (static analysis, nothing is imported)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "contour_fem"

#: Layers bottom to top; a module may import from its own layer and the layers below it.
LAYERS = ("core", "geometry", "mesh", "fem", "physics", "case", "config", "io", "studies", "cli")
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 300


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def layer(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) == 1:  # the package itself: its lazy public API sits above everything
        return len(LAYERS)
    top = "cli" if parts[1] == "__main__" else parts[1]
    return LAYERS.index(top) if top in LAYERS else None


def imports(path: Path, name: str) -> list[tuple[str, int, bool]]:
    """(imported contour_fem module, line, at module level) for every import in a file."""
    tree = ast.parse(path.read_text())
    top_level = {id(n) for n in tree.body}
    known = modules()
    found = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                pkg = name.split(".")
                if not path.name == "__init__.py":
                    pkg = pkg[:-1]
                base = ".".join(pkg[: len(pkg) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.append(full if full in known else base)
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        for target in targets:
            if target.split(".")[0] == "contour_fem":
                found.append((target, node.lineno, id(node) in top_level))
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: {t for t, _, _ in imports(path, name) if t in mods and t != name}
            for name, path in mods.items()}


def test_every_module_belongs_to_a_layer():
    assert all(layer(m) is not None for m in modules()), \
        [m for m in modules() if layer(m) is None]


def test_imports_go_only_downwards():
    upward = []
    for name, path in modules().items():
        for target, line, _ in imports(path, name):
            if layer(target) is not None and layer(target) > layer(name):
                upward.append(f"{name}:{line} imports {target}")
    assert not upward, upward


def test_no_import_circle():
    g = graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node, stack):
        state[node] = 1
        for nxt in g[node]:
            # A package's __init__ re-exporting its submodules is not a circle of the code.
            if node.startswith(nxt + "."):
                continue
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for module in g:
        if module not in state:
            visit(module, [module])
    assert not cycles, cycles


def test_package_imports_sit_at_module_level():
    # An import inside a function hides a dependency (and a circle) from the reader; only the
    # package's own lazy public API may defer one.
    hidden = [f"{name}:{line} {target}" for name, path in modules().items() if name != "contour_fem"
              for target, line, top in imports(path, name) if not top]
    assert not hidden, hidden


def test_modules_and_classes_are_small():
    big = []
    for name, path in modules().items():
        text = path.read_text()
        if text.count("\n") > MAX_MODULE_LINES:
            big.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno > MAX_CLASS_LINES:
                big.append(f"{name}.{node.name}: {node.end_lineno - node.lineno} lines")
    assert not big, big


def _assigned_attributes(func: ast.FunctionDef) -> set[str]:
    out = set()
    for node in ast.walk(func):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        stack = list(targets)
        while stack:  # attributes assigned directly (not items of an attribute's container)
            t = stack.pop()
            if isinstance(t, ast.Tuple | ast.List | ast.Starred):
                stack.extend(t.elts if not isinstance(t, ast.Starred) else [t.value])
            elif (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                  and t.value.id == "self"):
                out.add(t.attr)
    return out


@pytest.mark.parametrize("name", sorted(modules()))
def test_attributes_are_declared_in_init(name):
    tree = ast.parse(modules()[name].read_text())
    late = []
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        methods = [n for n in cls.body if isinstance(n, ast.FunctionDef)]
        init = next((m for m in methods if m.name == "__init__"), None)
        declared = _assigned_attributes(init) if init else set()
        for method in methods:
            if method.name == "__init__":
                continue
            for attr in _assigned_attributes(method) - declared:
                late.append(f"{cls.name}.{method.name} sets self.{attr}")
    assert not late, late
