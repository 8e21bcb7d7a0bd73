"""The anomaly-detection methods as one table: which events each classifier separates, and where.

A method is a pair of classes (class 1 = "data-like", class 0 = the reference) built from
named sources, and the space its classifier sees. Sources are the parts of a split
(:data:`resonant_ad.stages.parts.SPLIT_PARTS`) or two synthetic ones:

- ``samples``: CATHODE's flow samples in the SR (their ``split`` column says train / val);
- ``normal``: draws from the flow's N(0, 1) base density, LaCATHODE's background model.

In the ``z`` space every split part is read from the flow's latent mapping of that part; in
the ``xp`` space from its decorrelated version x' = f⁻¹(f(x; m); m0), where ``samples`` are the
flow's draws at m0 (resonant_ad.stages.mapping.decorrelate).
Adding a method is one entry in :data:`METHODS`; the workflow, evaluation and figures pick
it up from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from resonant_ad.stages.parts import DATA_PARTS

#: test parts every method is scored on, never trained on (see resonant_ad.stages.classify)
TEST_PARTS = ("sr_test", "sb_test", "extra_test", "signal_test")
#: the SR signal that was not injected: all of it enters a method's SIC test set, except the
#: parts the method trains on (the supervised classifier's train/val signal), as the paper's
#: Table I and the reference code
SIC_SIGNAL_PARTS = ("signal_train", "signal_val", "signal_test")
SYNTHETIC_SOURCES = ("samples", "normal")
#: the spaces a flow maps the data into: its latent space and the decorrelated x' at m0
FLOW_SPACES = ("z", "xp")


def space_draws_at_m0(space: str) -> bool:
    """Whether data mapped into ``space`` by a flow is compared with that flow's own draws at
    m0 (x′: the decorrelated method's reference), which then need the sampling settings."""
    return space == "xp"


@dataclass(frozen=True)
class Method:
    """Training classes of one method: ``(train, val)`` sources for class 1 and class 0."""

    label: str
    space: str
    positive: tuple[str, str]
    negative: tuple[str, str]
    weakly_supervised: bool
    description: str
    #: class 0 from the two sidebands next to the SR only (CWoLa hunting), each side weighted
    #: to half the class's total weight; the width is the study's ``cwola.sideband_width``
    narrow_sidebands: bool = False

    def sources(self) -> tuple[str, ...]:
        """Every source the training reads, without repeats, in a fixed order."""
        out: list[str] = []
        for name in (*self.positive, *self.negative):
            if name not in out:
                out.append(name)
        return tuple(out)

    def split_parts(self) -> tuple[str, ...]:
        """The split parts the method reads, in its own space: its training sources, the
        test parts and every data part (the bump hunt's out-of-fold scores)."""
        out = [s for s in self.sources() if s not in SYNTHETIC_SOURCES]
        out += [p for p in (*TEST_PARTS, *DATA_PARTS) if p not in out]
        return tuple(out + [p for p in SIC_SIGNAL_PARTS if p not in out])

    def reads_flow(self) -> bool:
        """Whether the training reads the run's flow (its samples, its N(0, 1) draws or its
        mapping of the data): only then can the flow's diagnostics explain its numbers."""
        return self.space != "x" or any(s in SYNTHETIC_SOURCES for s in self.sources())

    def mapped_by_flow(self) -> bool:
        """Whether the classifier sees the data through a flow's map (:data:`FLOW_SPACES`)."""
        return self.space in FLOW_SPACES

    def draws_from_flow(self, cross_fitted: bool) -> bool:
        """Whether the training draws events from a flow, sized by the flow's sampling settings
        (``n_samples``, ``sample_val_fraction``): LaCATHODE's N(0, 1) reference, or, where
        cross-fitted flows map the folds (``cross_fitted``), each fold flow's draws at m0."""
        at_m0 = cross_fitted and space_draws_at_m0(self.space)
        return "normal" in self.sources() or at_m0

    def trains_on_data(self) -> bool:
        """Whether a class is drawn from the data (then its scores of the data are only
        fair out of fold); the supervised classifier never sees the data."""
        return any(s in DATA_PARTS for s in self.sources())

    def sic_signal_parts(self) -> tuple[str, ...]:
        """The SR signal parts of the SIC test set: every one the method does not train on."""
        return tuple(p for p in SIC_SIGNAL_PARTS if p not in self.sources())


METHODS: dict[str, Method] = {
    "cathode": Method(
        label="CATHODE",
        space="x",
        positive=("sr_train", "sr_val"),
        negative=("samples", "samples"),
        weakly_supervised=True,
        description="SR data vs flow samples of the SR background, in feature space",
    ),
    "lacathode": Method(
        label="LaCATHODE",
        space="z",
        positive=("sr_train", "sr_val"),
        negative=("normal", "normal"),
        weakly_supervised=True,
        description="SR data mapped to the flow's latent space vs N(0, 1) draws",
    ),
    "idealized": Method(
        label="Idealized AD",
        space="x",
        positive=("sr_train", "sr_val"),
        negative=("extra_train", "extra_val"),
        weakly_supervised=True,
        description="SR data vs true SR background (the extra QCD sample)",
    ),
    "supervised": Method(
        label="Supervised",
        space="x",
        positive=("signal_train", "signal_val"),
        negative=("extra_train", "extra_val"),
        weakly_supervised=False,
        description="signal vs background with truth labels (upper bound)",
    ),
    "decorrelated": Method(
        label="CATHODE (x' at m0)",  # ASCII: the figure font has no prime (′)
        space="xp",
        positive=("sr_train", "sr_val"),
        negative=("samples", "samples"),
        weakly_supervised=True,
        description="LaCATHODE footnote 2: SR data moved to m0 by f⁻¹(f(x; m); m0) vs flow "
        "samples at m0",
    ),
    "cwola": Method(
        label="CWoLA hunting",
        space="x",
        positive=("sr_train", "sr_val"),
        negative=("sb_train", "sb_val"),
        weakly_supervised=True,
        description="SR data vs the SB data next to the SR (needs features independent of mJJ)",
        narrow_sidebands=True,
    ),
    "latent_cwola": Method(
        label="CWoLa in z",
        space="z",
        positive=("sr_train", "sr_val"),
        negative=("sb_train", "sb_val"),
        weakly_supervised=True,
        description="LaCATHODE with the SB data next to the SR, mapped to the latent space, in "
        "place of N(0, 1): a reference that carries the flow's mismodelling near the SR",
        narrow_sidebands=True,
    ),
}


def method(name: str) -> Method:
    """The method called ``name``, or a clear error listing the known ones."""
    try:
        return METHODS[name]
    except KeyError:
        raise KeyError(f"unknown method {name!r}; known: {sorted(METHODS)}") from None


def display_label(name: str) -> str:
    """A method's label for figures; another row name (a control such as ``random_cut``)
    in words."""
    return METHODS[name].label if name in METHODS else name.replace("_", " ")
