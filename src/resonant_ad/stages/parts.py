"""The names stages and the workflow share: the parts of a split, and numbers in labels.

A split writes one file per part; the latent map and decorrelation act on a subset of them.
Numbers that name things (a toy correlation c, an SR window, a di-τ σ) have one text form, so
that paths, seeds and tables agree.
"""

from __future__ import annotations

from collections.abc import Sequence

#: parts of a split: data by region and split, the extra SR background (idealized AD), and
#: the SR signal events that were not injected (supervised training and the SIC test set)
SPLIT_PARTS = (
    "sr_train",
    "sr_val",
    "sr_test",
    "sb_train",
    "sb_val",
    "sb_test",
    "extra_train",
    "extra_val",
    "extra_test",
    "signal_train",
    "signal_val",
    "signal_test",
)
#: parts mapped to the flow's latent space: what LaCATHODE trains and is tested on, and the
#: SB parts that the bump hunt's out-of-fold scores need
LATENT_PARTS = (
    "sr_train",
    "sr_val",
    "sr_test",
    "sb_train",
    "sb_val",
    "sb_test",
    "extra_test",
    "signal_train",
    "signal_val",
    "signal_test",
)
#: the data's parts (SR and SB, every role): what the bump hunt's out-of-fold scores cover
DATA_PARTS = ("sr_train", "sr_val", "sr_test", "sb_train", "sb_val", "sb_test")
#: the parts the flow diagnostics read: every data part (the bump hunt's events) and the
#: extra SR background
FLOW_CHECK_PARTS = (*DATA_PARTS, "extra_test")
#: the di-τ SR background parts (the classifier's train/val data, the test set; no signal)
DITAU_SR_PARTS = ("sr_train", "sr_val", "sr_test")
#: the di-τ background parts (signal is kept per injection strength)
DITAU_BACKGROUND_PARTS = ("sb_train", "sb_val", *DITAU_SR_PARTS)


def format_c(c: float | str) -> str:
    """The canonical text of a number in paths and seeds (a toy correlation c or a di-τ
    injection strength σ: 0.1 → '0.1', 2.0 → '2')."""
    return f"{float(c):g}"


def format_window(window: Sequence[float | str]) -> str:
    """The text of an SR window in paths: ``[3.3, 3.7]`` → ``3.3-3.7``."""
    low, high = window
    return f"{format_c(low)}-{format_c(high)}"


def parse_window(text: str) -> list[float]:
    """The window of a path's ``{window}`` text (the inverse of :func:`format_window`)."""
    try:
        low, high = (float(v) for v in text.split("-"))
    except ValueError:
        raise ValueError(f"SR window {text!r} is not of the form LOW-HIGH (e.g. 3.3-3.7)") from None
    if not low < high:
        raise ValueError(f"SR window {text!r}: low must be below high")
    return [low, high]
