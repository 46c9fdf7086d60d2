"""The notebooks' claims, checked on the numbers of the run that makes them.

A notebook's text says what its results show ("the autoencoder beats PCA at 128 bits").
`check` says whether this run bears the claim out, with the figures, so that a student whose
numbers differ knows to answer from their own. With AUTOENCODER_STRICT_CLAIMS=1 (the test
suite's run of every solution notebook, and `make full-run`) a claim that does not hold
raises instead: fast mode must teach the same lesson as full mode.
"""

from .config import STRICT_CLAIMS_ENV as STRICT_ENV
from .config import switched_on


class ClaimNotBorneOut(AssertionError):
    """A claim of the notebook's text that this run's own numbers contradict."""


def strict() -> bool:
    return switched_on(STRICT_ENV)


def check(claim: str, holds, evidence: str) -> bool:
    """Print whether `claim` holds in this run, and why (`evidence`: the figures compared).

    Returns whether it holds; in strict mode a claim that does not hold raises
    ClaimNotBorneOut."""
    if not isinstance(claim, str) or not claim.strip():
        raise ValueError("check needs the claim, in words")
    holds = bool(holds)
    if holds:
        print(f"Borne out by this run: {claim} ({evidence}).")
        return True
    message = f"Not borne out by this run: {claim} ({evidence})."
    if strict():
        raise ClaimNotBorneOut(
            f"{message} The text claims it, so the notebook's settings (or the text) must "
            "change until this run's own numbers support it."
        )
    print(
        f"{message} The text was written from a full-mode run; answer from your own numbers."
    )
    return False
