"""The shared optimizer-step loop: members, every event once per epoch, the graphs switch."""

from __future__ import annotations

import pytest
import torch

from resonant_ad.core.training import EpochRunner, adam, permutations, use_graphs

CPU = torch.device("cpu")


def test_graphs_switch():
    assert use_graphs("auto", CPU) is False  # auto: only with CUDA
    assert use_graphs(False, CPU) is False and use_graphs("off", CPU) is False
    with pytest.raises(ValueError, match="needs a CUDA device"):
        use_graphs(True, CPU)
    with pytest.raises(ValueError, match="auto, on or off"):
        use_graphs("sometimes", CPU)
    if not torch.cuda.is_available():
        return
    cuda = torch.device("cuda")
    assert use_graphs("auto", cuda) is True
    assert use_graphs("auto", cuda, capturable=False) is False
    with pytest.raises(ValueError, match="cannot capture"):
        use_graphs(True, cuda, capturable=False)


def test_an_epoch_visits_every_event_once_per_member_with_the_short_last_batch():
    """10 events, batch 4: batches of 4, 4 and 2 (the reference keeps the short batch);
    with min_batch 3 the last one is skipped. Each member follows its own permutation."""
    seen: list[torch.Tensor] = []
    weight = torch.nn.Parameter(torch.zeros(2))

    def loss_fn(idx: torch.Tensor) -> torch.Tensor:
        seen.append(idx.clone())
        return weight * idx.float().mean(1)

    model = torch.nn.Module()
    model.weight = weight
    opt = adam([weight], 1e-3, 0.0, CPU, False)
    runner = EpochRunner(model, loss_fn, opt, 10, 4, 2, CPU)
    assert runner.batches() == [(0, 4), (4, 4), (8, 2)]
    gens = [torch.Generator().manual_seed(s) for s in (1, 2)]
    perms = permutations(gens, 10, CPU)
    total = runner.epoch(perms)
    visited = torch.cat(seen, dim=1)
    for r in range(2):
        assert sorted(visited[r].tolist()) == list(range(10))
    assert not torch.equal(visited[0], visited[1])
    # the summed loss per member: Σ_batches size × mean = Σ of the indices × weight (0 at start)
    assert total.shape == (2,)
    assert EpochRunner(model, loss_fn, opt, 10, 4, 2, CPU, min_batch=3).batches() == [
        (0, 4),
        (4, 4),
    ]


def test_permutations_do_not_depend_on_the_device():
    a = permutations([torch.Generator().manual_seed(3)], 50, CPU)
    b = permutations([torch.Generator().manual_seed(3)], 50, CPU)
    assert torch.equal(a, b) and a.shape == (1, 50)
