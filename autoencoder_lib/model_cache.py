"""Never train the same model twice: what ``training.fit`` trained, kept on disk.

``training.fit`` asks :func:`lookup` before it trains and calls :func:`store` after. An
entry is found only when everything that decides the result is the same, hashed into
one key (:func:`key`):

* the model: its config, and the code of every class, loss or function of the
  notebook it uses (a custom layer, the VAE's ``loss_fn``), with the values those
  functions read from the notebook's globals;
* its starting state: every weight and random-seed state, and the optimizer's
  variables when it has been used before;
* the optimizer's config, the loss and the metrics (``model.get_compile_config()``);
* the training and validation arrays, byte for byte;
* ``fit``'s arguments and the device settings it trains with;
* the backend and its version, Keras' version, and the library's own source.

Anything that cannot be described that way (a ``tf.data`` pipeline, a callback of
your own, an object in a loss's globals that is not plain data) is trained, not
cached. What is not in the key is the shuffling order, which comes from the seeds
``session.start()`` sets: a rerun of the same notebook shuffles the same way.

Where: ``$KERAS_HOME/autoencoder_course/models`` (``~/.keras/...``), or the folder in
``AUTOENCODER_MODEL_CACHE_DIR``. Folders in ``AUTOENCODER_MODEL_CACHE_SHARED`` (separated
by ``os.pathsep``) are only ever read: grading reads the instructor's cache, filled from
the solutions by ``make warm-cache``, and writes a student's new entries to that
student's scratch space. ``AUTOENCODER_MODEL_CACHE=0`` or ``fit(..., cache=False)``
switches it off. An entry is written to a temporary file and renamed into place; one
that does not load, or does not fit the model, is trained again and replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
import types
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import keras
import numpy as np

from .config import MODEL_CACHE_DIR_ENV as DIR_ENV
from .config import MODEL_CACHE_ENV as ENABLE_ENV
from .config import MODEL_CACHE_SHARED_ENV as SHARED_ENV

FORMAT = 1  # bump when the entry layout changes: old entries are then never found

# Modules whose functions and classes are named, not hashed: their code is fixed by
# the versions in the key (the library's own source is hashed as a whole).
_NAMED_MODULES = (
    "keras",
    "numpy",
    "tensorflow",
    "jax",
    "torch",
    "math",
    "builtins",
    "functools",
    "operator",
    "autoencoder_lib",
    "scipy",
)


class Uncacheable(Exception):
    """What fit was given cannot be keyed exactly: it trains, and nothing is stored."""


def enabled(cache: bool | None = None) -> bool:
    if cache is not None:
        return bool(cache)
    return os.environ.get(ENABLE_ENV, "1").strip().lower() not in ("0", "false", "no")


def writable_dir() -> Path:
    chosen = os.environ.get(DIR_ENV, "").strip()
    if chosen:
        return Path(chosen).expanduser()
    home = os.environ.get("KERAS_HOME", "").strip() or Path.home() / ".keras"
    return Path(home) / "autoencoder_course" / "models"


def shared_dirs() -> list[Path]:
    value = os.environ.get(SHARED_ENV, "")
    return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]


# -- the key -------------------------------------------------------------------------


@cache
def _library_source_digest() -> str:
    """The library as it is on disk: editing a builder must not serve old models."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _backend_version() -> str:
    backend = keras.backend.backend()
    module = sys.modules.get({"tensorflow": "tensorflow"}.get(backend, backend))
    return f"{backend} {getattr(module, '__version__', '?')}"


def _array_digest(digest, array) -> None:
    array = np.ascontiguousarray(array)
    digest.update(f"{array.dtype.str}{array.shape}".encode())
    digest.update(memoryview(array).cast("B"))


def _is_named(obj) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module.split(".")[0] in _NAMED_MODULES


class _Describer:
    """A JSON-able description of code and the plain values it reads."""

    def __init__(self):
        self._seen: set[int] = set()

    def value(self, obj, depth: int = 0):
        if depth > 12:
            raise Uncacheable("too deeply nested to describe")
        if obj is None or isinstance(obj, bool | int | float | str | bytes):
            return repr(obj)
        if isinstance(obj, tuple | list):
            return [type(obj).__name__, [self.value(o, depth + 1) for o in obj]]
        if isinstance(obj, dict):
            return [
                "dict",
                sorted((repr(k), self.value(v, depth + 1)) for k, v in obj.items()),
            ]
        if isinstance(obj, np.ndarray | np.generic):
            digest = hashlib.sha256()
            _array_digest(digest, obj)
            return ["array", digest.hexdigest()]
        if isinstance(obj, types.ModuleType):
            return ["module", obj.__name__]
        if isinstance(obj, types.FunctionType | types.MethodType | type):
            return self.code(obj, depth + 1)
        if isinstance(obj, types.BuiltinFunctionType):
            return ["builtin", getattr(obj, "__module__", ""), obj.__qualname__]
        if isinstance(obj, keras.layers.Layer):
            return ["layer", self.layer(obj, _layer_names(obj))]
        if _is_named(type(obj)) and hasattr(obj, "get_config"):
            try:
                config = obj.get_config()
            except Exception as error:
                raise Uncacheable(f"{type(obj).__name__} has no config") from error
            return [type(obj).__qualname__, self.value(config, depth + 1)]
        raise Uncacheable(f"cannot describe a {type(obj).__name__}")

    def code(self, obj, depth: int = 0):
        """A function or class: named if it comes from a library, else its code."""
        if isinstance(obj, types.MethodType):
            return [
                "method",
                self.code(obj.__func__, depth),
                self.value(obj.__self__, depth + 1)
                if not isinstance(obj.__self__, keras.layers.Layer)
                else "self",
            ]
        name = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
        if _is_named(obj):
            return ["named", name]
        if id(obj) in self._seen:
            return ["seen", name]
        self._seen.add(id(obj))
        if isinstance(obj, type):
            members = []
            for klass in obj.__mro__:
                if _is_named(klass):
                    members.append(["base", f"{klass.__module__}.{klass.__qualname__}"])
                    break
                for attr, member in sorted(vars(klass).items()):
                    if attr.startswith("__") and attr not in ("__init__", "__call__"):
                        continue
                    if isinstance(member, staticmethod | classmethod):
                        member = member.__func__
                    if isinstance(member, property):
                        member = member.fget
                    try:
                        members.append([attr, self.value(member, depth + 1)])
                    except Uncacheable:
                        raise
            return ["class", name, members]
        if not isinstance(obj, types.FunctionType):
            raise Uncacheable(f"cannot describe {name}")
        used = {}
        for global_name in _names(obj.__code__):
            if global_name in obj.__globals__:
                used[global_name] = self.value(obj.__globals__[global_name], depth + 1)
        closure = [
            self.value(c.cell_contents, depth + 1) for c in obj.__closure__ or ()
        ]
        defaults = self.value(obj.__defaults__, depth + 1)
        kwdefaults = self.value(obj.__kwdefaults__ or {}, depth + 1)
        return ["function", name, _code_digest(obj.__code__), used, closure, defaults,
                kwdefaults]  # fmt: skip

    def layer(self, layer, names: dict[str, str]) -> list:
        """A layer or model: its config and, unless Keras' own, its class's code."""
        klass = type(layer)
        described = [f"{klass.__module__}.{klass.__qualname__}"]
        if not _is_named(klass):
            described.append(self.code(klass))
        if not klass.__module__.startswith("keras"):
            # What a subclass keeps beyond Keras' own attributes: the VAE's loss_fn,
            # a beta. Sub-layers are described below, variables by their values.
            own = {}
            for attr, member in sorted(vars(layer).items()):
                if attr.startswith("_") or attr in _keras_attributes():
                    continue
                if isinstance(
                    member,
                    keras.layers.Layer | keras.Variable | keras.random.SeedGenerator,
                ):
                    continue
                own[attr] = self.value(member)
            described.append(own)
        try:
            config = layer.get_config()
        except NotImplementedError:
            config = None
        if config is not None:
            described.append(self.value(_canonical(config, names)))
        for sub in layer._flatten_layers(include_self=False, recursive=False):
            described.append(self.layer(sub, names))
        return described


@cache
def _keras_attributes() -> frozenset[str]:
    """The attributes every Keras model and layer has (built, compiled, loss, the
    compiled step functions...), which a subclass's own attributes are not."""
    model = keras.Model()
    model.compile(optimizer="sgd", loss="mse")
    names = set(vars(model)) | set(vars(keras.layers.Layer()))
    # Set by fit, and the optimizer and loss, which the key describes on their own.
    names |= {"train_function", "test_function", "predict_function", "history"}
    names |= {"stop_training", "optimizer", "loss"}
    return frozenset(names)


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _code_digest(code: types.CodeType) -> str:
    digest = hashlib.sha256()
    digest.update(code.co_code)
    digest.update(repr(code.co_names).encode())
    digest.update(repr(code.co_varnames).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            digest.update(_code_digest(const).encode())
        else:
            digest.update(repr(const).encode())
    return digest.hexdigest()


def _layer_names(model) -> dict[str, str]:
    """Each layer's name, mapped to its place in the model. Keras numbers names as
    layers are made (dense, dense_3): the same model built in another kernel, or after
    another cell, gets other numbers, which change nothing it computes."""
    layers = [model, *model._flatten_layers(include_self=False, recursive=True)]
    names: dict[str, str] = {}
    for layer in layers:
        names.setdefault(layer.name, f"layer{len(names)}")
    return names


def _canonical(config, names: dict[str, str], key: str = ""):
    """``config`` with layer names replaced by their place: only where Keras puts a
    layer's name (``name``, a tensor's ``keras_history``, a model's input and output
    layers), so that a string option that happens to match a name stays as it is."""
    if isinstance(config, dict):
        out = {}
        for k, v in config.items():
            if k == "name" and isinstance(v, str):
                out[k] = names.get(v, v)
            elif k == "keras_history" and isinstance(v, list | tuple) and v:
                out[k] = [names.get(v[0], v[0]), *v[1:]]
            else:
                out[k] = _canonical(v, names, k)
        return out
    if isinstance(config, list | tuple):
        if key in ("input_layers", "output_layers"):
            return [
                names.get(v, v) if isinstance(v, str) else _canonical(v, names, key)
                for v in config
            ]
        return [_canonical(v, names, key) for v in config]
    return config


def _without_optimizer_name(compile_config: dict) -> dict:
    """Keras numbers optimizers' names too (adam, adam_1), which change nothing."""
    config = dict(compile_config)
    optimizer = config.get("optimizer")
    if isinstance(optimizer, dict) and isinstance(optimizer.get("config"), dict):
        inner = {k: v for k, v in optimizer["config"].items() if k != "name"}
        config["optimizer"] = {**optimizer, "config": inner}
    return config


def _state_variables(model) -> list:
    """Weights and random-seed states: what training starts from and changes."""
    metric_ids = {id(v) for v in model.metrics_variables}
    return [v for v in model.variables if id(v) not in metric_ids]


def _optimizer_variables(model) -> list:
    optimizer = model.optimizer
    return list(optimizer.variables) if getattr(optimizer, "built", False) else []


def _weights_exist(model) -> bool:
    """Whether every weight training will use exists now, so that the starting state
    can be hashed. A subclassed model (the VAE) is built on its first call, but makes
    no weights of its own there unless its class defines ``build``."""
    if model.built:
        return True
    if any(not layer.built for layer in model._flatten_layers(include_self=False)):
        return False
    return not any(
        "build" in vars(klass) for klass in type(model).__mro__ if not _is_named(klass)
    )


def key(model, arrays: dict, arguments: dict) -> str:
    """The cache key of training ``model`` on ``arrays`` with ``arguments``; raises
    :class:`Uncacheable` when something that decides the result cannot be hashed."""
    if not model.weights or not _weights_exist(model):
        raise Uncacheable("the model's weights are not made yet")
    describer = _Describer()
    try:
        compile_config = model.get_compile_config()
    except Exception as error:
        raise Uncacheable("its compile config cannot be read") from error
    description = {
        "format": FORMAT,
        "keras": keras.__version__,
        "backend": _backend_version(),
        "library": _library_source_digest(),
        "model": describer.layer(model, _layer_names(model)),
        "compile": describer.value(_without_optimizer_name(compile_config)),
        "loss_code": describer.value(getattr(model, "loss", None)),
        "optimizer": describer.value(
            {k: v for k, v in model.optimizer.get_config().items() if k != "name"}
        ),
        "arguments": describer.value(arguments),
    }
    digest = hashlib.sha256(
        json.dumps(description, sort_keys=True, default=str).encode()
    )
    for variable in _state_variables(model) + _optimizer_variables(model):
        _array_digest(digest, keras.ops.convert_to_numpy(variable))
    for name in sorted(arrays):
        value = arrays[name]
        if value is None:
            digest.update(f"{name}:none".encode())
            continue
        if not isinstance(value, np.ndarray):
            raise Uncacheable(f"{name} is a {type(value).__name__}, not a NumPy array")
        digest.update(name.encode())
        _array_digest(digest, value)
    return digest.hexdigest()


# -- entries ---------------------------------------------------------------------------


@dataclass
class Entry:
    history: dict
    params: dict
    epoch: list
    seconds: float
    path: Path


def _path(folder: Path, digest: str) -> Path:
    return folder / f"{digest}.npz"


def lookup(model, digest: str) -> Entry | None:
    """Load the entry for ``digest`` into ``model`` (weights, seeds, optimizer state);
    None when there is none, or it is unreadable or does not fit this model."""
    for folder in [writable_dir(), *shared_dirs()]:
        path = _path(folder, digest)
        if not path.is_file():
            continue
        entry = _load(model, path)
        if entry is not None:
            return entry
    return None


def _load(model, path: Path) -> Entry | None:
    state, optimizer = _state_variables(model), None
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(bytes(stored["meta"]).decode())
            if meta.get("format") != FORMAT:
                return None
            values = [stored[f"state_{i}"] for i in range(meta["state"])]
            optimizer_values = [
                stored[f"optimizer_{i}"] for i in range(meta["optimizer"])
            ]
    except Exception:  # a partial or corrupt file: train again
        return None
    if len(values) != len(state) or any(
        tuple(v.shape) != tuple(value.shape)
        for v, value in zip(state, values, strict=True)
    ):
        return None
    if optimizer_values:
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        optimizer = _optimizer_variables(model)
        if len(optimizer) != len(optimizer_values) or any(
            tuple(v.shape) != tuple(value.shape)
            for v, value in zip(optimizer, optimizer_values, strict=True)
        ):
            return None
    for variable, value in zip(state, values, strict=True):
        variable.assign(value)
    for variable, value in zip(optimizer or [], optimizer_values, strict=True):
        variable.assign(value)
    return Entry(
        history=meta["history"],
        params=meta["params"],
        epoch=meta["epoch"],
        seconds=meta["seconds"],
        path=path,
    )


def store(model, digest: str, history, seconds: float) -> Path | None:
    """Write the trained state for ``digest`` atomically; None (and a warning) when the
    folder cannot be written, which never stops training from returning."""
    folder = writable_dir()
    state = [keras.ops.convert_to_numpy(v) for v in _state_variables(model)]
    optimizer = [keras.ops.convert_to_numpy(v) for v in _optimizer_variables(model)]
    meta = {
        "format": FORMAT,
        "state": len(state),
        "optimizer": len(optimizer),
        "history": {k: [float(x) for x in v] for k, v in history.history.items()},
        "params": {k: v for k, v in (history.params or {}).items() if _plain(v)},
        "epoch": [int(e) for e in history.epoch],
        "seconds": round(float(seconds), 2),
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    arrays = {f"state_{i}": v for i, v in enumerate(state)}
    arrays |= {f"optimizer_{i}": v for i, v in enumerate(optimizer)}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=folder, prefix=".partial-", suffix=".npz", delete=False
        ) as handle:
            tmp = Path(handle.name)
            np.savez(handle, **arrays)
        # Readable by every grading sandbox that binds a shared cache read-only.
        os.chmod(tmp, 0o644)
        os.replace(tmp, _path(folder, digest))
        return _path(folder, digest)
    except OSError as error:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        print(
            f"Model cache: could not write to {folder} ({error.strerror or error}); "
            f"the model is trained but not kept. Set {DIR_ENV} to a writable folder, "
            f"or {ENABLE_ENV}=0.",
            file=sys.stderr,
        )
        return None


def _plain(value) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def history_from(model, entry: Entry) -> keras.callbacks.History:
    """A ``History`` as ``model.fit`` returns it, from a cache entry."""
    history = keras.callbacks.History()
    history.set_model(model)
    history.set_params(entry.params)
    history.history = {k: list(v) for k, v in entry.history.items()}
    history.epoch = list(entry.epoch)
    model.history = history
    return history
