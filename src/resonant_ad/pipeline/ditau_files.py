"""The file lists of the di-τ study's group jobs (a classifier job per signal and group of
repeats), on the patterns of :mod:`resonant_ad.pipeline.patterns`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from resonant_ad.pipeline.files import grouped, run_groups
from resonant_ad.pipeline.patterns import DITAU_SAMPLES, DITAU_SCORES, DITAU_TRAINING
from resonant_ad.stages.parts import format_c


def ditau_repeat_groups(config: Mapping[str, Any]) -> list[tuple[int, ...]]:
    """The di-τ repeats in groups of ``runs_per_job`` (a classifier job per signal and group;
    none when the config has no di-τ section)."""
    if "ditau" not in config:
        return []
    return run_groups(int(config["ditau"]["repeats"]), config.get("runs_per_job", 1))


def ditau_group_trainings(
    ditau: Mapping[str, Any], repeats: Sequence[int]
) -> list[tuple[str, int]]:
    """(σ as in the paths, repeat) of every training of one signal's group of ``repeats``."""
    return [(format_c(sigma), int(r)) for sigma in ditau["injections"] for r in repeats]


def ditau_group_samples(repeats: Sequence[int]) -> dict[str, str]:
    """The synthetic samples of a group of repeats, keyed ``samples_{repeat}``."""
    return grouped(lambda r: {"samples": DITAU_SAMPLES.format(repeat=r)}, repeats)


def ditau_group_outputs(ditau: Mapping[str, Any], repeats: Sequence[int]) -> dict[str, str]:
    """The score and summary files of :func:`ditau_group_trainings`, keyed ``{kind}_{i}``
    with i the training's place in that list (``{signal}`` left as a wildcard)."""
    trainings = ditau_group_trainings(ditau, repeats)

    def files_of(i: int) -> dict[str, str]:
        sigma, repeat = trainings[i]
        ids = {"signal": "{signal}", "sigma": sigma, "repeat": repeat}
        return {"scores": DITAU_SCORES.format(**ids), "summary": DITAU_TRAINING.format(**ids)}

    return grouped(files_of, range(len(trainings)))
