import pytest

from autoencoder_lib import config


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_true_values(value):
    assert config._parse(value) is True


@pytest.mark.parametrize("value", ["", "0", "false", "No", "off"])
def test_false_values(value):
    assert config._parse(value) is False


def test_unknown_value_is_a_clear_error():
    with pytest.raises(
        ValueError, match="AUTOENCODER_FAST='maybe'.*AUTOENCODER_FAST=1"
    ):
        config._parse("maybe")


def test_pick_follows_the_mode(monkeypatch):
    monkeypatch.setattr(config, "FAST", True)
    assert config.pick(full=50, fast=2) == 2
    assert "ON" in config.describe()
    monkeypatch.setattr(config, "FAST", False)
    assert config.pick(full=50, fast=2) == 50
    assert "Full mode" in config.describe()


def test_the_suite_runs_in_fast_mode():
    assert config.FAST, "tests must run with AUTOENCODER_FAST=1 (set by conftest.py)"


def test_every_environment_variable_is_documented_once():
    """docs/environment.md lists every AUTOENCODER_* variable the project reads, each in
    one row, and none that nothing reads."""
    import re

    from autoencoder_lib.instructor.course import ROOT

    code = [
        *(ROOT / "autoencoder_lib").rglob("*.py"),
        ROOT / "nbgrader_config.py",
        ROOT / "Makefile",
    ]
    used = set()
    for path in code:
        used |= set(re.findall(r"AUTOENCODER_[A-Z_]+[A-Z]", path.read_text()))
    doc = (ROOT / "docs" / "environment.md").read_text()
    rows = re.findall(r"^\| `(AUTOENCODER_[A-Z_]+)` \|", doc, re.M)
    assert len(rows) == len(set(rows)), "a variable is documented twice"
    assert set(rows) == used, (
        f"undocumented: {sorted(used - set(rows))}; documented but unused: "
        f"{sorted(set(rows) - used)}"
    )
