"""The first call of every notebook: a quiet backend start, seeds and a device report.

Introduced in notebook 01 (setup cell). Call :func:`start` before importing ``keras``:
it keeps TensorFlow's C++ start-up lines (``oneDNN custom operations...``, ``failed call
to cuInit``) out of the notebook, where nbgrader would count them as an error in
whichever test cell happened to start the backend.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

# Log levels of TensorFlow's C++ core and of gRPC; 3 = errors that stop the program only.
_QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR"}


@contextlib.contextmanager
def _silenced_stderr():
    """Send file descriptor 2 to a temporary file, so C++ log lines are swallowed.

    Python-level errors are unaffected: they travel as exceptions, not through fd 2.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def start_backend() -> str:
    """Import Keras and run one tiny operation, with start-up noise silenced; on JAX,
    put the faster transposed convolution in place (:mod:`.jax_conv_transpose`).

    Returns the backend's name. Safe to call more than once.
    """
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    with _silenced_stderr():
        import keras

        # The first operation initialises devices: that is when cuInit complains.
        keras.ops.convert_to_numpy(keras.ops.add(keras.ops.ones((1,)), 1.0))
        # JAX only: transposed convolutions through a plain convolution, several times
        # faster on XLA and the same function (jax_conv_transpose's docstring).
        from . import jax_conv_transpose

        jax_conv_transpose.install()
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.get_logger().setLevel("ERROR")
    return keras.backend.backend()


def start(seed: int | None = 0, *, report: bool = True) -> None:
    """Start the backend quietly, seed Python, NumPy and Keras, pick the device's
    training settings (:func:`training.configure`) and print the report.

    ``seed=None`` leaves the random generators alone.
    """
    start_backend()
    import keras

    from . import config, training

    if seed is not None:
        # On JAX and PyTorch, Keras seeds TensorFlow too when it is installed, and that
        # import is TensorFlow's first, with its C++ start-up lines.
        with _silenced_stderr():
            keras.utils.set_random_seed(seed)
    # Precision and distribution apply to layers built from now on.
    training.configure()
    if report:
        print(training.device_report())
        print(config.describe())
