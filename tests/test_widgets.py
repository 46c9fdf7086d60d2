import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autoencoder_lib import corruptions, widgets


class CountingIdentity:
    def __init__(self):
        self.calls = 0

    def predict(self, x, verbose=0):
        self.calls += 1
        return np.asarray(x)


def test_slider_redraws_with_live_psnr(mnist_small):
    _, (x_test, _) = mnist_small
    model = CountingIdentity()
    explorer = widgets.CorruptionExplorer(
        model,
        x_test,
        corrupt=lambda x, std: corruptions.gaussian_noise(x, std, seed=0),
        levels=[0.1, 0.4, 0.8],
        n=6,
    )
    assert model.calls == 1 and explorer.last["level"] == 0.4
    first = explorer.last["psnr_corrupted"]
    explorer.slider.value = 0.8  # what a student's drag does
    assert model.calls == 2, "one predict call per redraw, for the whole batch"
    assert explorer.last["level"] == 0.8
    assert explorer.last["psnr_corrupted"] < first - 3  # more noise, lower PSNR
    # An identity "model" restores nothing: output PSNR equals input PSNR.
    assert explorer.last["psnr_restored"] == pytest.approx(
        explorer.last["psnr_corrupted"]
    )


def test_empty_levels_rejected(mnist_small):
    _, (x_test, _) = mnist_small
    with pytest.raises(ValueError, match="levels is empty"):
        widgets.CorruptionExplorer(
            CountingIdentity(), x_test, lambda x, s: x, levels=[]
        )


def test_code_size_slider_switches_model(mnist_small):
    _, (x_test, _) = mnist_small

    class Blank(CountingIdentity):
        def predict(self, x, verbose=0):
            self.calls += 1
            return np.zeros_like(np.asarray(x))

    copy, blank = CountingIdentity(), Blank()
    explorer = widgets.ReconstructionExplorer({8: blank, 1024: copy}, x_test, n=5)
    assert explorer.last["label"] == 1024 and explorer.last["mse"] == 0.0
    explorer.slider.value = 8
    assert (copy.calls, blank.calls) == (1, 1), "one predict per redraw, chosen model"
    assert explorer.last["mse"] == pytest.approx(float(np.mean(x_test[:5] ** 2)))
    with pytest.raises(ValueError, match="models is empty"):
        widgets.ReconstructionExplorer({}, x_test)


def test_latent_sliders_decode_one_point_per_redraw():
    class Decoder:
        calls = 0

        def predict(self, z, verbose=0):
            Decoder.calls += 1
            z = np.asarray(z)
            # An image whose brightness encodes z1, so the output can be checked.
            return np.clip(
                np.full((len(z), 28, 28, 1), z[:, :1, None, None] / 10), 0, 1
            )

    rng = np.random.default_rng(0)
    codes = rng.normal(size=(200, 2)) * 3 + 5
    explorer = widgets.LatentExplorer(Decoder(), codes, labels=rng.integers(0, 10, 200))
    assert Decoder.calls == 1
    explorer.sliders[0].value = explorer.sliders[0].max  # far outside the codes
    assert Decoder.calls == 2, "one predict per redraw"
    assert explorer.last["point"][0] == pytest.approx(explorer.sliders[0].max)
    far = explorer.last["nearest_code_distance"]
    explorer.sliders[0].value = float(codes[0, 0])
    explorer.sliders[1].value = float(codes[0, 1])
    assert explorer.last["nearest_code_distance"] < far
    with pytest.raises(ValueError, match=r"shaped \(N, 2\)"):
        widgets.LatentExplorer(Decoder(), codes[:, :1])


WIDGETS7 = Path(sys.executable).parent.parent / "widgets7"


@pytest.mark.integration
@pytest.mark.skipif(
    os.environ.get("AUTOENCODER_WIDGETS7") == "1", reason="already under ipywidgets 7"
)
def test_the_explorers_work_under_colabs_ipywidgets_7_7():
    """Colab ships ipywidgets 7.7.1 (../shared/colab/): every test above runs again
    with it first on the path (`make test` installs it into .venv/widgets7)."""
    if not (WIDGETS7 / "ipywidgets").is_dir():
        pytest.skip(f"ipywidgets 7.7.1 is not installed in {WIDGETS7} (make test does)")
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(WIDGETS7), os.environ.get("PYTHONPATH", "")]),
        AUTOENCODER_WIDGETS7="1",
    )
    version = subprocess.run(
        [sys.executable, "-c", "import ipywidgets; print(ipywidgets.__version__)"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert version == "7.7.1"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert re.search(r"\b[1-9]\d* passed, 1 skipped", result.stdout), result.stdout[
        -1000:
    ]
