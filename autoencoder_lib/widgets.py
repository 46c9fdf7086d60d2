"""ipywidgets explorers: move a slider, see the model's output change.

Introduced in notebook 03 (the noise-level explorer). Every redraw runs the model once
on the whole batch shown, never once per image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np

from . import metrics, plots


class CorruptionExplorer:
    """A slider over a corruption level showing corrupted / restored / clean images.

    ``corrupt(x, level)`` makes the corrupted batch; ``model.predict`` restores it. The
    row labels carry the live PSNR against the clean images. ``last`` holds the numbers
    of the latest redraw.
    """

    def __init__(
        self,
        model,
        x_clean,
        corrupt: Callable,
        levels: Sequence[float],
        description: str = "noise std",
        n: int = 8,
    ):
        import ipywidgets as w

        if len(levels) == 0:
            raise ValueError("levels is empty: give the corruption levels to offer.")
        self.model = model
        self.x_clean = np.asarray(x_clean)[:n]
        self.corrupt = corrupt
        self.last: dict = {}
        self.slider = w.SelectionSlider(
            options=list(levels),
            value=list(levels)[len(levels) // 2],
            description=description,
            continuous_update=False,
        )
        self.output = w.Output()
        self.widget = w.VBox([self.slider, self.output])
        self.slider.observe(lambda change: self.draw(change["new"]), names="value")
        self.draw(self.slider.value)

    def draw(self, level) -> None:
        corrupted = self.corrupt(self.x_clean, level)
        restored = self.model.predict(corrupted, verbose=0)
        self.last = {
            "level": level,
            "psnr_corrupted": metrics.psnr(self.x_clean, corrupted),
            "psnr_restored": metrics.psnr(self.x_clean, restored),
        }
        with self.output:
            self.output.clear_output(wait=True)
            plots.image_rows(
                {
                    f"input\n{self.last['psnr_corrupted']:.1f} dB": corrupted,
                    f"output\n{self.last['psnr_restored']:.1f} dB": restored,
                    "clean": self.x_clean,
                }
            )
            plt.show()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
