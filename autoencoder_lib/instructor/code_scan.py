"""Answer cells that reach for the grader's machinery: read, never run, to flag a
submission for a human to look at."""

from __future__ import annotations

import ast
import re

# What a submission's own cells have no business touching: the interpreter's and
# IPython's machinery, other processes' memory, the grader's files.
_SUSPICIOUS_NAMES = {
    "get_ipython": "uses get_ipython() (IPython's machinery)",
    "settrace": "sets a trace function",
    "setprofile": "sets a profile function",
    "addaudithook": "adds an audit hook",
    "input_transformers_cleanup": "changes IPython's input transformers",
    "input_transformers_post": "changes IPython's input transformers",
    "input_transformer_manager": "changes IPython's input transformers",
    "ast_transformers": "changes IPython's AST transformers",
    "set_custom_exc": "installs a custom exception handler",
    "showtraceback": "changes how errors are shown",
    "_showtraceback": "changes how errors are shown",
    "__builtins__": "touches __builtins__",
    "meta_path": "changes the import system",
    "path_hooks": "changes the import system",
    "_getframe": "reads interpreter frames",
    "f_back": "reads interpreter frames",
    "f_globals": "reads interpreter frames",
    "f_locals": "reads interpreter frames",
    "get_referrers": "searches the interpreter's objects",
    "get_objects": "searches the interpreter's objects",
    "shell_handlers": "changes the kernel's handlers",
    "do_execute": "changes the kernel's handlers",
    "run_cell": "changes how cells run",
}


_SUSPICIOUS_MODULES = {
    "ctypes": "imports ctypes",
    "builtins": "imports builtins",
    "gc": "imports gc",
    "sqlite3": "imports sqlite3",
    "nbgrader": "imports nbgrader",
    "importlib": "imports importlib",
    "ipykernel": "imports ipykernel",
}


_SUSPICIOUS_STRINGS = ("gradebook", "solutions/", ".ipynb", "autograded", "submitted/")


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def suspicious_code(
    nb: dict, module_names: set[str], release: dict | None = None
) -> list[str]:
    """Why a submission's own cells (answers, edited or added cells) need a look.

    Cells whose code is exactly a cell of the release are the instructor's and are
    not judged; nbgrader restores locked cells anyway."""
    found = []
    theirs = {cell_source(c).strip() for c in (release or {}).get("cells", [])}
    for number, cell in enumerate(nb.get("cells", []), start=1):
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if cell.get("cell_type") != "code" or (meta and not meta.get("solution")):
            continue
        source = cell_source(cell)
        if source.strip() in theirs:
            continue
        where = f"cell {number}" + (f" ({meta['grade_id']})" if meta else "")
        reasons = _scan(source, module_names)
        found.extend(f"{where} {reason}" for reason in reasons)
    return found


def _scan(source: str, module_names: set[str]) -> list[str]:
    # IPython syntax (magics, shell escapes) is not Python; judge those lines apart.
    lines = source.splitlines()
    reasons = []
    if any(line.lstrip().startswith(("!", "%")) for line in lines):
        reasons.append("runs IPython magics or shell commands")
    python = "\n".join(
        "" if line.lstrip().startswith(("!", "%")) else line for line in lines
    )
    try:
        tree = ast.parse(python)
    except SyntaxError:
        words = set(re.findall(r"[A-Za-z_]+", python))
        return reasons + sorted({v for k, v in _SUSPICIOUS_NAMES.items() if k in words})
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.Attribute):
            name = node.attr
        if name in _SUSPICIOUS_NAMES:
            reasons.append(_SUSPICIOUS_NAMES[name])
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            for module in modules:
                top = module.split(".")[0]
                if top in _SUSPICIOUS_MODULES:
                    reasons.append(_SUSPICIOUS_MODULES[top])
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            targets = node.targets if hasattr(node, "targets") else [node.target]
            for target in targets:
                base = target
                while isinstance(base, ast.Attribute):
                    base = base.value
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(base, ast.Name)
                    and base.id in module_names | {"sys", "os"}
                ):
                    reasons.append(f"replaces {ast.unparse(target)}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("setattr", "delattr") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Name) and first.id in module_names | {
                    "sys",
                    "os",
                }:
                    reasons.append(f"calls {node.func.id} on {first.id}")
            if node.func.id in ("exec", "eval", "compile", "__import__"):
                reasons.append(f"calls {node.func.id}()")
        if isinstance(node, ast.Attribute) and node.attr == "modules":
            if isinstance(node.value, ast.Name) and node.value.id == "sys":
                reasons.append("touches sys.modules")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if any(s in node.value for s in _SUSPICIOUS_STRINGS):
                reasons.append(f"names the grader's files ({node.value[:40]!r})")
    return list(dict.fromkeys(reasons))
