"""Inside a grading kernel: keep the machinery that test cells rely on as it was.

A student's cell runs in the same interpreter as the test cells that grade it, so it
could change what those tests mean: replace ``np.allclose``, add an IPython input
transformer that turns ``assert`` lines into ``pass``, install a trace function, swallow
errors with a custom exception handler, rebind ``np`` in the notebook's namespace.

:func:`install` runs when the kernel starts, before any notebook code: it records
references to that machinery (and, through an import hook, to each watched module as
it is imported). The grader (``preprocessors.GuardedExecute``) calls :func:`check`
before and after every graded test cell. It puts back whatever differs and returns
what it found, so the test runs against the real functions; a change found after a
test cell happened during it, and the grader then fails that cell. Every finding is
reported for the instructor.

This raises the bar; it is no proof against a student who reads this file and writes
against it, which is why the grader also flags, for review, submissions whose own
cells reach for the interpreter's machinery (``grading.suspicious_code``).
"""

from __future__ import annotations

import builtins
import importlib.abc
import json
import sys
import threading
import types

WATCHED_PREFIXES = (
    "builtins",
    "math",
    "numpy",
    "keras",
    "autoencoder_lib",
    "IPython",
    "ipykernel",
    "jupyter_client",
    "traitlets",
    "inspect",
    "unittest",
)
# Names IPython itself rebinds between cells.
_VOLATILE = {"_", "__", "___", "_oh", "_dh", "_ih", "In", "Out", "exit", "quit"}


class _Missing:
    pass


_MISSING = _Missing()


def _is_machinery(value) -> bool:
    return callable(value) or isinstance(
        value, (types.ModuleType, property, staticmethod, classmethod)
    )


class _State:
    def __init__(self):
        self.modules: dict[str, tuple[types.ModuleType, dict]] = {}
        self.classes: dict[int, tuple[type, dict]] = {}
        self.objects: list[tuple[str, object, dict]] = []
        self.lists: dict[str, tuple[object, list]] = {}
        self.events: list[str] = []
        self.bindings: dict[str, str] = {}
        self.hooks: dict[str, object] = {}
        self.shell = None
        self.finder = None
        self.audit_seen: set[str] = set()


_STATE: _State | None = None


def _snapshot_module(module: types.ModuleType) -> None:
    state = _STATE
    name = getattr(module, "__name__", None)
    if state is None or not isinstance(name, str) or name in state.modules:
        return
    try:
        members = dict(vars(module))
    except TypeError:
        return
    state.modules[name] = (
        module,
        {k: v for k, v in members.items() if _is_machinery(v) and k not in _VOLATILE},
    )
    for value in members.values():
        if (
            isinstance(value, type)
            and getattr(value, "__module__", None) == name
            and id(value) not in state.classes
        ):
            try:
                attrs = dict(vars(value))
            except TypeError:
                continue
            state.classes[id(value)] = (
                value,
                {k: v for k, v in attrs.items() if _is_machinery(v)},
            )


class _SnapshotFinder(importlib.abc.MetaPathFinder):
    """Records each watched module right after its own code has run."""

    def find_spec(self, name, path, target=None):
        if not name.startswith(WATCHED_PREFIXES):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if (
            loader is None
            or isinstance(loader, type)
            or not hasattr(loader, "exec_module")
        ):
            return spec
        original = loader.exec_module

        def exec_module(module, _original=original):
            _original(module)
            _snapshot_module(module)

        try:
            loader.exec_module = exec_module
        except (AttributeError, TypeError):
            pass
        return spec


_AUDITED = {
    "sys.addaudithook": "added an audit hook (sys.addaudithook)",
    "sys.settrace": "set a trace function (sys.settrace)",
    "sys.setprofile": "set a profile function (sys.setprofile)",
    "ctypes.dlopen": "loaded a C library through ctypes",
    "ctypes.dlsym": "looked up a C symbol through ctypes",
    "ctypes.addressof": "took a raw memory address through ctypes",
    "gc.get_referrers": "searched the interpreter's objects (gc.get_referrers)",
    "gc.get_objects": "searched the interpreter's objects (gc.get_objects)",
}


# Frames inside the audited APIs themselves; the caller that matters is the first one
# outside them.
_API_FILES = ("/ctypes/", "/numpy/ctypeslib", "/threading.py")


def _called_from_notebook() -> bool:
    """Whether the code that raised the current audit event was written in the
    notebook. Libraries use ctypes and gc too (threadpoolctl loads the BLAS libraries
    through ctypes when scikit-learn fits a PCA); those calls are not the student's."""
    frame = sys._getframe(2)
    while frame is not None and any(
        part in frame.f_code.co_filename for part in _API_FILES
    ):
        frame = frame.f_back
    return frame is not None and _notebook_file(frame.f_code.co_filename)


def _audit(event, args):
    state = _STATE
    if (
        state is not None
        and event in _AUDITED
        and event not in state.audit_seen
        and _called_from_notebook()
    ):
        state.audit_seen.add(event)
        state.events.append(_AUDITED[event])


def _watch_object(label: str, obj) -> None:
    try:
        attrs = dict(vars(obj))
    except TypeError:
        return
    _STATE.objects.append(
        (label, obj, {k: v for k, v in attrs.items() if _is_machinery(v)})
    )


def _shell_lists(shell) -> dict[str, object]:
    manager = getattr(shell, "input_transformer_manager", None)
    found = {
        "input_transformers_cleanup": getattr(
            shell, "input_transformers_cleanup", None
        ),
        "input_transformers_post": getattr(shell, "input_transformers_post", None),
        "ast_transformers": getattr(shell, "ast_transformers", None),
        "sys.meta_path": sys.meta_path,
        "sys.path_hooks": sys.path_hooks,
    }
    if manager is not None:
        for name in ("cleanup_transforms", "line_transforms", "token_transformers"):
            found[f"input_transformer_manager.{name}"] = getattr(manager, name, None)
    events = getattr(getattr(shell, "events", None), "callbacks", {})
    for name, callbacks in events.items():
        found[f"events.{name}"] = callbacks
    return {k: v for k, v in found.items() if isinstance(v, list)}


def _same(a, b) -> bool:
    """Identity, except that a bound method is re-created at each attribute access."""
    if a is b:
        return True
    return (
        isinstance(a, types.MethodType)
        and isinstance(b, types.MethodType)
        and a.__func__ is b.__func__
        and a.__self__ is b.__self__
    )


def _hooks(installing: bool = False) -> dict[str, object]:
    shell = _STATE.shell
    excepthook = sys.excepthook
    if installing and shell is not None:
        # install() runs inside a cell, where IPython swaps in its own excepthook;
        # check() runs between cells, where the saved one is back.
        excepthook = getattr(shell, "sys_excepthook", excepthook)
    return {
        "sys.gettrace": sys.gettrace(),
        "sys.getprofile": sys.getprofile(),
        "threading._trace_hook": getattr(threading, "_trace_hook", None),
        "threading._profile_hook": getattr(threading, "_profile_hook", None),
        "sys.displayhook": sys.displayhook,
        "sys.excepthook": excepthook,
        "shell.__class__": type(shell),
        "shell.custom_exceptions": getattr(shell, "custom_exceptions", ()),
        "shell.CustomTB": getattr(shell, "CustomTB", None),
    }


def install(import_names: dict[str, str] | None = None) -> None:
    """Record the machinery; called once, when the grading kernel starts."""
    global _STATE
    if _STATE is not None:
        return
    _STATE = state = _State()
    import numpy  # noqa: F401  (cheap, and the tests' first tool)

    try:
        from IPython import get_ipython

        state.shell = get_ipython()
    except ImportError:
        state.shell = None
    for name, module in list(sys.modules.items()):
        if name.startswith(WATCHED_PREFIXES) and isinstance(module, types.ModuleType):
            _snapshot_module(module)
    state.finder = _SnapshotFinder()
    sys.meta_path.insert(0, state.finder)
    shell = state.shell
    if shell is not None:
        for label, obj in (
            ("shell", shell),
            ("kernel", getattr(shell, "kernel", None)),
            (
                "kernel.session",
                getattr(getattr(shell, "kernel", None), "session", None),
            ),
            ("shell.displayhook", getattr(shell, "displayhook", None)),
            ("shell.display_pub", getattr(shell, "display_pub", None)),
            ("shell.events", getattr(shell, "events", None)),
            ("shell.compile", getattr(shell, "compile", None)),
            ("shell.InteractiveTB", getattr(shell, "InteractiveTB", None)),
        ):
            if obj is not None:
                _watch_object(label, obj)
        kernel = getattr(shell, "kernel", None)
        for name in ("shell_handlers", "control_handlers"):
            handlers = getattr(kernel, name, None)
            if isinstance(handlers, dict):
                state.lists[f"kernel.{name}"] = (handlers, dict(handlers))
    state.hooks = _hooks(installing=True)
    state.bindings = dict(import_names or {})
    sys.addaudithook(_audit)
    # Lists are recorded last: the finder above is part of sys.meta_path.
    if shell is not None:
        for label, value in _shell_lists(shell).items():
            state.lists[label] = (value, list(value))


def _restore_hooks(found: list[str]) -> None:
    state = _STATE
    now = _hooks()
    for label, original in state.hooks.items():
        if _same(now[label], original):
            continue
        found.append(f"{label} was replaced")
        if label == "sys.gettrace":
            sys.settrace(original)
        elif label == "sys.getprofile":
            sys.setprofile(original)
        elif label.startswith("threading."):
            setattr(threading, label.split(".")[1], original)
        elif label == "sys.displayhook":
            sys.displayhook = original
        elif label == "sys.excepthook":
            sys.excepthook = original
        elif label == "shell.__class__":
            state.shell.__class__ = original
        elif label == "shell.custom_exceptions":
            state.shell.custom_exceptions = original
        elif label == "shell.CustomTB":
            state.shell.CustomTB = original


def _notebook_file(filename: str) -> bool:
    return (
        filename.startswith("<")
        or "ipykernel_" in filename
        or filename.startswith("/scratch/")
    )


def _from_notebook(obj) -> bool:
    """Whether ``obj`` was written in the notebook (or in a file it wrote)."""
    for candidate in (
        obj,
        getattr(obj, "__func__", None),
        getattr(obj, "func", None),
        type(obj),
    ):
        if candidate is None:
            continue
        code = getattr(candidate, "__code__", None)
        if isinstance(code, types.CodeType) and _notebook_file(code.co_filename):
            return True
        if isinstance(candidate, type):
            if candidate.__module__ == "__main__":
                return True
            for value in vars(candidate).values():
                code = getattr(getattr(value, "__func__", value), "__code__", None)
                if isinstance(code, types.CodeType) and _notebook_file(
                    code.co_filename
                ):
                    return True
    return False


def _restore_lists(found: list[str]) -> None:
    """Hook lists: entries the notebook added go, entries it removed come back.
    Libraries add entries too (matplotlib's post-execute hook, import finders); those
    are kept, and recorded as the new reference."""
    state = _STATE
    shell = state.shell
    current = _shell_lists(shell) if shell is not None else {}
    for label, (container, original) in state.lists.items():
        if isinstance(container, dict):
            if container.keys() != original.keys() or any(
                not _same(container[k], v) for k, v in original.items()
            ):
                found.append(f"{label} was changed")
                container.clear()
                container.update(original)
            continue
        live = current.get(label, container)
        if live is not container:
            found.append(f"{label} was replaced")
            _set_list(shell, label, container)
            container[:] = list(live) if isinstance(live, list) else container
        added = [x for x in container if not any(x is y for y in original)]
        removed = [x for x in original if not any(x is y for y in container)]
        planted = [x for x in added if _from_notebook(x)]
        if planted or removed:
            found.append(
                f"{label} was changed ("
                + ", ".join(
                    [f"{len(planted)} entr{'y' if len(planted) == 1 else 'ies'} added"]
                    * bool(planted)
                    + [f"{len(removed)} removed"] * bool(removed)
                )
                + ")"
            )
            keep = [x for x in container if not any(x is p for p in planted)]
            container[:] = keep + [x for x in removed]
        state.lists[label] = (container, list(container))
    for label, value in current.items():
        if label not in state.lists:
            planted = [x for x in value if _from_notebook(x)]
            if planted:
                found.append(f"{label} gained {len(planted)} hook(s) from the notebook")
                value[:] = [x for x in value if not any(x is p for p in planted)]
            state.lists[label] = (value, list(value))


def _set_list(shell, label: str, container: list) -> None:
    if label == "sys.meta_path":
        sys.meta_path = container
    elif label == "sys.path_hooks":
        sys.path_hooks = container
    elif label.startswith("input_transformer_manager."):
        setattr(shell.input_transformer_manager, label.split(".")[1], container)
    elif label.startswith("events."):
        shell.events.callbacks[label.split(".")[1]] = container
    else:
        setattr(shell, label, container)


def _restore_members(found: list[str]) -> None:
    state = _STATE
    for name, (module, members) in list(state.modules.items()):
        if sys.modules.get(name, module) is not module:
            found.append(f"sys.modules[{name!r}] was replaced")
            sys.modules[name] = module
        live = vars(module)
        for key, value in members.items():
            if live.get(key, _MISSING) is not value:
                found.append(f"{name}.{key} was replaced")
                live[key] = value
    for cls, members in list(state.classes.values()):
        live = vars(cls)
        for key, value in members.items():
            if live.get(key, _MISSING) is not value:
                found.append(f"{cls.__module__}.{cls.__qualname__}.{key} was replaced")
                try:
                    setattr(cls, key, value)
                except (TypeError, AttributeError):
                    pass
    for label, obj, members in state.objects:
        live = vars(obj)
        for key, value in members.items():
            if live.get(key, _MISSING) is not value:
                found.append(f"{label}.{key} was replaced")
                live[key] = value
        for key, value in list(live.items()):
            if key not in members and callable(value) and _from_notebook(value):
                found.append(f"{label}.{key} was set by the notebook")
                del live[key]


def _restore_namespace(found: list[str]) -> None:
    shell = _STATE.shell
    if shell is None:
        return
    user_ns = shell.user_ns
    if user_ns.get("__builtins__", builtins) not in (builtins, vars(builtins)):
        found.append("the notebook's __builtins__ was replaced")
        user_ns["__builtins__"] = builtins
    for name, module_name in _STATE.bindings.items():
        module = sys.modules.get(module_name)
        if module is None or name not in user_ns:
            continue
        if user_ns[name] is not module:
            found.append(
                f"the notebook's name {name!r} no longer refers to {module_name}"
            )
            user_ns[name] = module


def check(nonce: str) -> str:
    """Put the recorded machinery back; JSON of what had changed (and the nonce)."""
    state = _STATE
    if state is None:
        return json.dumps({"nonce": nonce, "found": ["the guard was not installed"]})
    found: list[str] = []
    shell = state.shell
    # install() ran inside a cell, where IPython's traps had swapped in its builtins
    # and display hook; compare in the same state.
    traps = (
        (shell.builtin_trap, shell.display_trap)
        if shell is not None and hasattr(shell, "builtin_trap")
        else ()
    )
    for trap in traps:
        trap.__enter__()
    try:
        _restore_hooks(found)
        _restore_lists(found)
        _restore_members(found)
        _restore_namespace(found)
    finally:
        for trap in reversed(traps):
            trap.__exit__(None, None, None)
    # Modules imported before the finder saw them (none expected) are recorded now.
    for name, module in list(sys.modules.items()):
        if name.startswith(WATCHED_PREFIXES) and isinstance(module, types.ModuleType):
            _snapshot_module(module)
    events, state.events = state.events, []
    return json.dumps({"nonce": nonce, "found": found, "events": events})
