"""`make doctor`: checks a student's machine and says what to fix."""

import os
import subprocess
import sys


def _doctor(**env):
    return subprocess.run(
        [sys.executable, "-m", "autoencoder_lib.doctor"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_ready_machine_passes_every_check():
    result = _doctor()
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for line in ("ok   keras 3.", "ok   Keras 3.", "test images load", "ipywidgets 8"):
        assert line in out, out
    assert "All set" in out and "FIX" not in out
    # Backend start-up noise stays out of the report.
    assert "oneDNN" not in result.stderr + out


def test_missing_data_is_named_with_the_fix(tmp_path):
    result = _doctor(AUTOENCODER_DATA_DIR=str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert "FIX  the mnist dataset cannot be loaded" in result.stdout
    assert "AUTOENCODER_DATA_DIR" in result.stdout
    assert "1 thing(s) to fix" in result.stdout


def test_unknown_backend_is_named_with_the_fix():
    result = _doctor(KERAS_BACKEND="theano")
    assert result.returncode == 1
    assert "KERAS_BACKEND='theano' is not a Keras backend" in result.stdout
    assert "tensorflow, jax or torch" in result.stdout


def test_an_old_python_is_named_with_the_fix():
    import io

    from autoencoder_lib import doctor

    too_old = doctor.Report(io.StringIO())
    doctor.check_python(too_old, version=(3, 10, 14))
    assert too_old.failures == 1
    assert "Python 3.10.14 is too old: the course needs 3.11 or newer" in (
        too_old.stream.getvalue()
    )
    for version in ((3, 11, 5), (3, 13, 1)):
        fine = doctor.Report(io.StringIO())
        doctor.check_python(fine, version=version)
        assert fine.failures == 0 and "ok   Python" in fine.stream.getvalue()
