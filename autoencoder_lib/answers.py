"""The student's work as the exercises' test cells read it: data, never live objects.

A test cell asks for the student's work through ``student``, which the notebook's set-up
cell makes with :func:`of`::

    student = answers.of(globals())
    err = student.call("reconstruction_error", a, b)   # the function, run on a and b
    test_mse = student.value("test_mse")               # a number, an array, a list...
    encoder = student.model("encoder")                 # a Keras model: config + weights

In a student's own kernel (running a test cell, or Validate) ``student`` reads the
notebook's variables. When the course grades a submission, the test cells run in the
grader's own process, where ``student`` is a channel to the student's kernel: each
request names a variable or a function and carries the grader's inputs as data, and
what comes back is data too (JSON, and arrays in an ``.npz`` read without pickle). A
Keras model comes back as its configuration and weights and is rebuilt from built-in
Keras layers only (and the course's own registered layers); a Lambda layer or any other
custom code is refused. The same encoding is used in both places, so a student who sees
a test pass in their kernel gets the same answer when graded.

Introduced in notebook 01 (the first exercise's test cell).
"""

from __future__ import annotations

import base64
import io
import json
import math
import random
import sys

# What a test may receive: sizes a sensible answer stays far below.
MAX_BYTES = 256 * 2**20
MAX_MODEL_WEIGHTS = 20_000_000
MAX_ITEMS = 100_000


class AnswerError(Exception):
    """The student's work could not be read as data (the message says why)."""


class StudentCodeError(AssertionError):
    """The student's function raised; the test fails with the student's error."""


def raised(name: str, ename: str, evalue: str) -> str:
    """The one line a test shows when the student's ``name`` raised."""
    if ename == "NotImplementedError" and not str(evalue).strip():
        evalue = "this exercise is not answered yet"
    return f"{name}(...) raised {ename}: {evalue}"[:2000]


def _is_model(value) -> bool:
    # Only where Keras is already imported (no model exists otherwise): importing it
    # here would cost every answer a backend start.
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(value, keras.Model)


def _as_array(value):
    """A numpy array for arrays and tensors of any backend, else None."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, np.generic):
        return np.asarray(value)
    module = type(value).__module__.split(".")[0]
    if module in ("tensorflow", "jax", "jaxlib", "torch"):
        import keras

        return np.asarray(keras.ops.convert_to_numpy(value))
    return None


def _function_name(value) -> str:
    """``module:name`` of one of the course library's functions; anything else callable
    is not data (a test passes a function to a student's function only as such a name)."""
    import types

    module = getattr(value, "__module__", None) or ""
    name = getattr(value, "__qualname__", "")
    if (
        isinstance(value, types.FunctionType)
        and _library_module(module)
        and getattr(sys.modules.get(module), name, None) is value
    ):
        return f"{module}:{name}"
    raise AnswerError(
        f"the function {name or type(value).__name__} cannot be graded: answers are "
        "numbers, strings, arrays, lists, dicts or Keras models"
    )


def _library_module(module: str) -> bool:
    # The course's own modules, never the instructor's package (not in the student
    # edition) nor anything outside the library.
    return module.startswith("autoencoder_lib.") and not module.startswith(
        "autoencoder_lib.instructor"
    )


def _function(text) -> object:
    import importlib
    import types

    module, _, name = str(text).partition(":")
    if not (_library_module(module) and name.isidentifier()):
        raise AnswerError("malformed answer")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise AnswerError("malformed answer") from None
    if not isinstance(found, types.FunctionType):
        raise AnswerError("malformed answer")
    return found


def np_scalar_types() -> tuple:
    import numpy as np

    return (np.integer, np.floating, np.bool_)


class _Encoder:
    def __init__(self):
        self.arrays: list = []
        self.items = 0

    def array(self, array) -> dict:
        if array.dtype.kind not in "biufc":
            raise AnswerError(
                f"an array of {array.dtype} cannot be graded: use numbers "
                "(convert with np.asarray(..., dtype=float))"
            )
        self.arrays.append(array)
        return {"array": len(self.arrays) - 1}

    def value(self, value, depth: int = 0):
        self.items += 1
        if self.items > MAX_ITEMS or depth > 16:
            raise AnswerError("the answer is too large or nested too deeply to grade")
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"float": repr(value)}
        if isinstance(value, (list, tuple)):
            kind = "list" if isinstance(value, list) else "tuple"
            return {kind: [self.value(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            return {
                "dict": [
                    [self.key(k, depth + 1), self.value(v, depth + 1)]
                    for k, v in value.items()
                ]
            }
        if _is_model(value):
            return {"model": self.model(value)}
        if callable(value):
            return {"function": _function_name(value)}
        history = getattr(value, "history", None)
        if isinstance(history, dict) and type(value).__name__ == "History":
            return self.value(history, depth + 1)
        array = _as_array(value)
        if array is not None:
            if array.ndim == 0 and array.dtype.kind in "biuf":
                item = array.item()
                return self.value(item, depth + 1) if array.dtype.kind != "b" else item
            return self.array(array)
        raise AnswerError(
            f"a {type(value).__name__} cannot be graded: answers are numbers, strings, "
            "arrays, lists, dicts or Keras models"
        )

    def key(self, key, depth: int):
        """A dict key: a number, a string, None, or a tuple of those."""
        if isinstance(key, tuple):
            return {"tuple": [self.key(k, depth + 1) for k in key]}
        if isinstance(key, (int, float, str, np_scalar_types())) or key is None:
            return self.value(key, depth)
        raise AnswerError(
            f"a dict key of type {type(key).__name__} cannot be graded: use numbers "
            "or strings as keys"
        )

    def model(self, model) -> dict:
        import numpy as np

        weights = [np.asarray(w) for w in model.get_weights()]
        if sum(w.size for w in weights) > MAX_MODEL_WEIGHTS:
            raise AnswerError(
                f"the model has over {MAX_MODEL_WEIGHTS:,} weights, more than any "
                "exercise needs"
            )
        return {
            "config": model.to_json(),
            "weights": [self.array(w)["array"] for w in weights],
        }


def encode(value) -> str:
    """``value`` as the text that crosses from the kernel to the grader."""
    import numpy as np

    encoder = _Encoder()
    tree = encoder.value(value)
    buffer = io.BytesIO()
    np.savez(buffer, *encoder.arrays)
    blob = buffer.getvalue()
    if len(blob) > MAX_BYTES:
        raise AnswerError(f"the answer is {len(blob) >> 20} MiB, too large to grade")
    return json.dumps({"tree": tree, "arrays": base64.b64encode(blob).decode("ascii")})


# The Keras classes a graded model may be built from: Keras' own, and the course's
# registered layers (autoencoder_lib), never a student's class or a Lambda.
_REFUSED_CLASSES = {
    "Lambda",
    "TFSMLayer",
    "TorchModuleWrapper",
    "JaxLayer",
    "FlaxLayer",
}


def _check_config(config, where: str = "model") -> None:
    if isinstance(config, list):
        for item in config:
            _check_config(item, where)
        return
    if not isinstance(config, dict):
        return
    module = config.get("module")
    name = config.get("class_name")
    if module is not None and name is not None:
        if not isinstance(module, str) or not (
            module == "keras" or module.startswith(("keras.", "autoencoder_lib."))
        ):
            raise AnswerError(
                f"the {where} uses {module}.{name}: graded models may use Keras' own "
                "layers only"
            )
        if name in _REFUSED_CLASSES:
            raise AnswerError(
                f"the {where} uses a {name} layer, which runs code of its own: build "
                "it from Keras' layers (keras.layers, keras.ops) instead"
            )
        registered = config.get("registered_name")
        if registered not in (None, name) and not str(registered).startswith(
            "autoencoder_lib>"
        ):
            raise AnswerError(
                f"the {where} uses {registered}, a custom class: graded models may use "
                "Keras' own layers only"
            )
    for value in config.values():
        _check_config(value, where)


def _model(spec: dict, arrays: list):
    import keras

    config = json.loads(spec["config"])
    _check_config(config)
    # Keras seeds each unseeded initializer from Python's random module as it is made:
    # rebuilding a model here must not move the notebook's random stream, or every model
    # the notebook trains afterwards would start from other weights.
    state = random.getstate()
    try:
        model = keras.models.model_from_json(spec["config"])
    except Exception as error:
        raise AnswerError(
            f"the model could not be rebuilt from its configuration "
            f"({type(error).__name__}: {str(error)[:200]})"
        ) from None
    finally:
        random.setstate(state)
    weights = [arrays[i] for i in spec["weights"]]
    try:
        model.set_weights(weights)
    except Exception as error:
        raise AnswerError(
            f"the model's weights do not fit its layers ({str(error)[:200]})"
        ) from None
    return model


def _decode_tree(tree, arrays: list):
    if isinstance(tree, list):
        raise AnswerError("malformed answer")
    if not isinstance(tree, dict):
        return tree
    if len(tree) != 1:
        raise AnswerError("malformed answer")
    ((kind, value),) = tree.items()
    if kind == "float":
        return float(value)
    if kind == "list":
        return [_decode_tree(v, arrays) for v in value]
    if kind == "tuple":
        return tuple(_decode_tree(v, arrays) for v in value)
    if kind == "dict":
        pairs = [(_decode_tree(k, arrays), _decode_tree(v, arrays)) for k, v in value]
        for key, _ in pairs:
            if not isinstance(key, (int, float, str, tuple, type(None))):
                raise AnswerError("malformed answer")
        return dict(pairs)
    if kind == "array":
        return arrays[int(value)]
    if kind == "model":
        return _model(value, arrays)
    if kind == "function":
        return _function(value)
    raise AnswerError("malformed answer")


def decode(text: str):
    """The value :func:`encode` wrote; nothing in it is executed or unpickled."""
    import numpy as np

    if not isinstance(text, str) or len(text) > 2 * MAX_BYTES:
        raise AnswerError("the answer is missing or too large to grade")
    try:
        message = json.loads(text)
        blob = base64.b64decode(message["arrays"], validate=True)
        with np.load(io.BytesIO(blob), allow_pickle=False) as stored:
            arrays = [stored[f"arr_{i}"] for i in range(len(stored.files))]
    except AnswerError:
        raise
    except Exception as error:
        raise AnswerError(f"malformed answer ({type(error).__name__})") from None
    return _decode_tree(message["tree"], arrays)


def _local(value, depth: int = 0, copy_models: bool = False):
    """``value`` as a test in the student's own kernel sees it: data copied through
    the encoding, so it is read as the grader reads it; a Keras model checked as the
    grader checks it and kept (the student's model, as the grader sees it), or copied
    when it goes into a student's function (``copy_models``), as it does when graded."""
    if depth > 16:
        raise AnswerError("the answer is nested too deeply to grade")
    if _is_model(value) and copy_models:
        return decode(encode(value))
    if _is_model(value):
        if value.count_params() > MAX_MODEL_WEIGHTS:
            raise AnswerError(
                f"the model has over {MAX_MODEL_WEIGHTS:,} weights, more than any "
                "exercise needs"
            )
        _check_config(json.loads(value.to_json()))
        return value
    if isinstance(value, (list, tuple)):
        items = [_local(v, depth + 1, copy_models) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        for key in value:
            _Encoder().key(key, depth)  # refuses what the grader would refuse
        return {
            decode(encode(k)): _local(v, depth + 1, copy_models)
            for k, v in value.items()
        }
    return decode(encode(value))


def _array(value, name: str):
    """The student's ``name`` as an array (a list or tuple too), for its rows or shape."""
    import numpy as np

    array = _as_array(value)
    if array is None and isinstance(value, (list, tuple)):
        array = np.asarray(value)
    if array is None:
        raise StudentCodeError(f"{name} must be an array, not {type(value).__name__}")
    return array


def _first_rows(value, name: str, rows):
    if rows is None:
        return value
    array = _array(value, name)
    if array.ndim == 0:
        raise StudentCodeError(f"{name} must be an array, not {type(value).__name__}")
    return array[: int(rows)]


def _shape(value, name: str) -> tuple:
    return tuple(int(n) for n in _array(value, name).shape)


def require_model(found, name: str):
    """``found`` if it is a Keras model; else the test fails saying what ``name`` is."""
    if not _is_model(found):
        raise AssertionError(
            f"{name} must be a keras.Model, not {type(found).__name__}"
        )
    return found


def _resolve(namespace: dict, name: str):
    """The notebook's ``name``, or an attribute of it (``"model.encoder"``); a
    ``NameError`` if it is not there. Attribute names starting with ``_`` are refused."""
    root, *attributes = name.split(".")
    if root not in namespace:
        raise NameError(f"{root} is not defined")
    found = namespace[root]
    for attribute in attributes:
        if not attribute.isidentifier() or attribute.startswith("_"):
            raise AnswerError(f"{name!r} is not a name a test may read")
        if not hasattr(found, attribute):
            raise NameError(f"{name} is not defined ({root} has no {attribute})")
        found = getattr(found, attribute)
    return found


class Student:
    """The student's work, read in their own kernel (the notebook's variables)."""

    def __init__(self, namespace: dict):
        self._namespace = namespace

    def _lookup(self, name: str):
        try:
            return _resolve(self._namespace, name)
        except NameError as error:
            raise StudentCodeError(
                f"{error}: run the cell that defines it (and the cells before it) first"
            ) from None

    def has(self, name: str) -> bool:
        """Whether the notebook defines ``name``."""
        try:
            _resolve(self._namespace, name)
        except NameError:
            return False
        return True

    def value(self, name: str, rows: int | None = None):
        """The variable ``name``, as data; with ``rows``, an array's first rows only."""
        return _local(_first_rows(self._lookup(name), name, rows))

    def shape(self, name: str) -> tuple:
        """The shape of the array in ``name`` (without sending the array)."""
        return _shape(self._lookup(name), name)

    def model(self, name: str):
        """The Keras model in the variable ``name``, checked as the grader checks it."""
        return require_model(self.value(name), name)

    def call(self, name: str, *args, **kwargs):
        """``name(*args, **kwargs)`` run on copies of the arguments; its result as
        data. An error inside the function fails the test with that error, and its
        traceback (here, in the student's kernel) leads into the function."""
        function = self._lookup(name)
        if not callable(function):
            raise AssertionError(f"{name} must be a function")
        args, kwargs = _local([list(args), kwargs], copy_models=True)
        try:
            result = function(*args, **kwargs)
        except NotImplementedError as error:
            # The blank release's placeholder says nothing: say what it means.
            if not str(error).strip():
                error.args = ("this exercise is not answered yet",)
            raise
        return _local(result)


# Set by the grader's process: test cells there read the student's kernel instead.
_grader_channel = None


def of(namespace: dict):
    """``student`` for a notebook's test cells (module docstring)."""
    if _grader_channel is not None:
        return _grader_channel
    return Student(namespace)


def respond(request: str, namespace: dict) -> str:
    """Kernel side of the grader's channel: one request, one encoded reply."""
    try:
        message = json.loads(request)
        op, name = message["op"], message["name"]
        if not isinstance(name, str):
            raise AnswerError("malformed request")
        try:
            target = _resolve(namespace, name)
        except NameError as error:
            return json.dumps({"error": ["NameError", str(error)]})
        if op == "has":
            return json.dumps({"value": encode(True)})
        if op == "value":
            rows = message.get("rows")
            if rows is not None and not isinstance(rows, int):
                raise AnswerError("malformed request")
            return json.dumps({"value": encode(_first_rows(target, name, rows))})
        if op == "shape":
            return json.dumps({"value": encode(list(_shape(target, name)))})
        if op == "call":
            args, kwargs = decode(message["args"])
            if not callable(target):
                return json.dumps({"error": ["TypeError", f"{name} is not a function"]})
            return json.dumps({"value": encode(target(*args, **kwargs))})
        raise AnswerError("malformed request")
    except Exception as error:  # the student's error, reported as data
        return json.dumps({"error": [type(error).__name__, str(error)[:2000]]})
