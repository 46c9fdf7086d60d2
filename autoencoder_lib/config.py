"""The run-mode switch: fast mode for CI and grading, full mode for students.

Introduced in notebook 01 (setup section). The environment variable is read once, here,
when this module is first imported; every notebook and helper asks this module.
"""

import os

FAST_ENV = "AUTOENCODER_FAST"
# The trained-model cache (autoencoder_lib.model_cache): named here, where importing
# them costs nothing (the grader's own process never imports Keras).
MODEL_CACHE_ENV = "AUTOENCODER_MODEL_CACHE"  # 0 switches it off
MODEL_CACHE_DIR_ENV = "AUTOENCODER_MODEL_CACHE_DIR"  # the folder written to
MODEL_CACHE_SHARED_ENV = "AUTOENCODER_MODEL_CACHE_SHARED"  # folders only ever read
STRICT_CLAIMS_ENV = (
    "AUTOENCODER_STRICT_CLAIMS"  # 1: a claim a run contradicts raises (claims.py)
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _parse(value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(
        f"{FAST_ENV}={value!r} is not understood. Use {FAST_ENV}=1 for fast mode "
        f"(small subset, few epochs) or {FAST_ENV}=0 (or leave it unset) for full mode."
    )


FAST: bool = _parse(os.environ.get(FAST_ENV, ""))


def switched_on(name: str) -> bool:
    """Whether the environment variable ``name`` is set to 1, true, yes or on."""
    return os.environ.get(name, "").strip().lower() in _TRUE


def pick(*, full, fast):
    """Return ``fast`` in fast mode and ``full`` otherwise.

    Notebooks write both values side by side, so a reader always sees the full-mode
    setting: ``epochs = config.pick(full=30, fast=3)``.
    """
    return fast if FAST else full


def describe() -> str:
    """One line saying which mode is on and how to change it."""
    if FAST:
        return (
            f"Fast mode is ON ({FAST_ENV}=1): a small real subset and few epochs, "
            "so figures are rougher than those quoted in the text."
        )
    return (
        f"Full mode ({FAST_ENV} unset): the whole dataset and all epochs. "
        f"Set {FAST_ENV}=1 before starting Jupyter for a quick run."
    )
