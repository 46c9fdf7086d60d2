"""The setup cell must keep the backend's start-up noise away from graded cells."""

import os
import subprocess
import sys

import pytest


@pytest.mark.integration
def test_start_prints_report_and_nothing_on_stderr():
    code = (
        "from autoencoder_lib import session\n"
        "session.start(seed=0)\n"
        "import keras\n"
        "keras.ops.convert_to_numpy(keras.ops.ones((2, 2)) @ keras.ops.ones((2, 2)))\n"
    )
    env = {**os.environ, "AUTOENCODER_FAST": "1"}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the notebook's kernel does not have it set
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", f"start-up noise reached stderr:\n{result.stderr}"
    assert "Keras 3" in result.stdout and "Fast mode is ON" in result.stdout


def test_start_seeds_the_generators():
    import random

    import numpy as np

    from autoencoder_lib import session

    session.start(seed=3, report=False)
    first = (random.random(), np.random.random())
    session.start(seed=3, report=False)
    assert (random.random(), np.random.random()) == first
