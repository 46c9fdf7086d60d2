"""A test that needs a part this machine lacks (bubblewrap, Chromium, PostgreSQL, JAX,
PyTorch): skipped here with the reason, and failed in CI (``CI=true``), where those
checks are the ones that matter most and `make test` must have installed the part."""

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def missing(reason: str):
    """Skip with ``reason``, or fail with it in CI."""
    if in_ci():
        pytest.fail(f"{reason}; CI must have it (make test installs it)", pytrace=False)
    pytest.skip(reason)
