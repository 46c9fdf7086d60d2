import numpy as np
import pytest

from autoencoder_lib import claims


def test_a_claim_that_holds_is_reported_with_its_evidence(capsys, monkeypatch):
    monkeypatch.setenv(claims.STRICT_ENV, "1")
    assert claims.check("A beats B", np.float64(2.0) > 1.0, "2.0 against 1.0") is True
    assert (
        capsys.readouterr().out
        == "Borne out by this run: A beats B (2.0 against 1.0).\n"
    )


def test_a_claim_that_fails_is_a_note_for_students(capsys, monkeypatch):
    monkeypatch.delenv(claims.STRICT_ENV, raising=False)
    assert claims.check("A beats B", np.bool_(False), "0.9 against 1.0") is False
    out = capsys.readouterr().out
    assert out.startswith("Not borne out by this run: A beats B (0.9 against 1.0).")
    assert "answer from your own numbers" in out


@pytest.mark.parametrize("value", ["1", "true", " YES "])
def test_a_claim_that_fails_raises_in_strict_mode(monkeypatch, value):
    monkeypatch.setenv(claims.STRICT_ENV, value)
    with pytest.raises(claims.ClaimNotBorneOut, match="A beats B .0.9 against 1.0."):
        claims.check("A beats B", False, "0.9 against 1.0")


def test_the_suite_runs_the_notebooks_strictly():
    # conftest sets it, so nbval's kernels (which inherit this environment) raise on a
    # claim that fast mode does not bear out.
    assert claims.strict()


def test_a_claim_needs_words():
    with pytest.raises(ValueError, match="in words"):
        claims.check(" ", True, "")


def test_grading_never_runs_a_students_notebook_strictly(monkeypatch):
    from autoencoder_lib.instructor import tasks

    monkeypatch.setenv(claims.STRICT_ENV, "1")
    for sandboxed in (True, False):
        assert claims.STRICT_ENV not in tasks.environment(sandboxed)
