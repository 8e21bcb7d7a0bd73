"""The shared optimizer-step loop: members, every event once per epoch, no host syncs, the
graphs switch."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from resonant_ad.core.training import Adam, EpochRunner, permutations, use_graphs

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
    opt = Adam([weight], 1e-3, 0.0)
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


#: aten ops that make the host wait for the device on CUDA (a value read back, or an output
#: whose shape depends on the data): none may run inside a training epoch, or a step can
#: neither overlap the next nor be captured as a CUDA graph
SYNCING_OPS = {
    "_local_scalar_dense",  # .item(), float(t), bool(t), if t: ...
    "is_nonzero",
    "equal",
    "nonzero",
    "nonzero_static",
    "masked_select",
    "masked_scatter",
    "unique",
    "_unique2",
    "unique_dim",
    "unique_consecutive",
    "repeat_interleave",
    "bincount",
    "histc",
}


class SyncProbe(TorchDispatchMode):
    """Counts the syncing aten ops (and boolean-mask indexing) run under it, backward included."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._schema.name.split("::")[-1]
        if name in SYNCING_OPS:
            self.ops[name] += 1
        elif name in ("index", "index_put", "index_put_", "_index_put_impl_") and any(
            t is not None and t.dtype == torch.bool for t in args[1]
        ):
            self.ops[f"{name} with a boolean mask"] += 1
        return func(*args, **(kwargs or {}))


@pytest.fixture
def probed_epochs(monkeypatch):
    """Run every ``EpochRunner.epoch`` under a :class:`SyncProbe`; yields the probes."""
    probes: list[SyncProbe] = []
    epoch = EpochRunner.epoch

    def probed(self, perms):
        probes.append(SyncProbe())
        with probes[-1]:
            return epoch(self, perms)

    monkeypatch.setattr(EpochRunner, "epoch", probed)
    return probes


def test_the_probe_sees_a_host_sync(probed_epochs):
    """Control: a loss read back to the host inside the loop is caught."""
    weight = torch.nn.Parameter(torch.ones(1))
    model = torch.nn.Module()
    model.weight = weight

    def loss_fn(idx: torch.Tensor) -> torch.Tensor:
        loss = weight * idx.float().mean(1)
        float(loss.detach().sum())  # the per-step sync the loops must not have
        return loss

    opt = Adam([weight], 1e-3, 0.0)
    EpochRunner(model, loss_fn, opt, 8, 4, 1, CPU).epoch(permutations([torch.Generator()], 8, CPU))
    assert probed_epochs[0].ops["_local_scalar_dense"] == 2


def _stack_on_cpu(model: str, monkeypatch) -> None:
    """For a "stacked" model: RQ-spline members train as one StackedRQS on the CPU too (on a
    GPU they do; on a CPU one after the other)."""
    if "stacked" in model:
        from resonant_ad.core import flow

        monkeypatch.setattr(flow, "STACK_DEVICES", ("cuda", "cpu"))


def _fit(model: str, n_train: int, epochs: int, graphs: bool = False) -> list:
    """Fit the flows or classifiers of ``model`` ("maf, 3 members", "rqs", "classifier, 2
    members") on ``n_train`` small training events and 200 validation events."""
    from resonant_ad.core.classifier import NeuralClassifierEnsemble, TrainingData, fit_members
    from resonant_ad.core.flow import ConditionalFlow
    from resonant_ad.core.flow import fit_members as fit_flows

    members = int(model.split(",")[1].split()[0]) if "," in model else 1
    n = n_train + 200
    rng = np.random.default_rng(0)
    X, m = rng.normal(size=(n, 4)), rng.uniform(3.0, 4.0, n)
    t, v = slice(0, n_train), slice(n_train, n)
    if model.startswith("classifier"):
        y = (rng.uniform(size=n) < 0.5).astype(float)
        data = TrainingData(X[t], y[t], X[v], y[v], np.ones(n_train), None)
        kw = {"hidden_layers": [16], "epochs": epochs, "n_best_epochs": 2, "batch_size": 64}
        clfs = [NeuralClassifierEnsemble(**kw, seed=s + 1, graphs=graphs) for s in range(members)]
        return fit_members(clfs, [data] * members)
    kw = {"architecture": model.split(",")[0], "blocks": 2, "hidden": 16, "bins": 4}
    if "MADE" in model:  # the di-τ paper's layer: a MADE of 6 blocks
        kw["made_blocks"] = 6
    flows = [
        ConditionalFlow(**kw, epochs=epochs, batch_size=128, progress=False, seed=s, graphs=graphs)
        for s in range(members)
    ]
    return fit_flows(flows, X[t], m[t], X[v], m[v])


@pytest.mark.parametrize(
    "model",
    [
        "maf, 3 members",
        "maf, 1 member",
        "rqs",
        "rqs, 1 member, 6 MADE blocks",
        "rqs, 3 members stacked",
        "classifier, 2 members",
    ],
)
def test_training_epochs_never_wait_for_the_host(model, probed_epochs, monkeypatch):
    """Item 1 of the GPU work: the epochs of the flows (MAF members, the graph-safe RQ spline)
    and the NN classifiers run no op that syncs host and device (forward, backward, Adam);
    the losses are read once per epoch, outside the loop. On the CPU this is the part of
    "capturable as a CUDA graph" that can be checked without a GPU."""
    _stack_on_cpu(model, monkeypatch)
    _fit(model, n_train=400, epochs=2)
    assert len(probed_epochs) == 2
    for probe in probed_epochs:
        assert probe.ops == Counter(), f"{model}: host syncs in a training epoch: {dict(probe.ops)}"


def test_adam_is_torch_fused_adam_bit_for_bit():
    """The loops' Adam (no torch.optim, so no torch._dynamo import) makes the same updates as
    ``torch.optim.Adam(fused=True)``, weight decay and a parameter without gradient included."""
    torch.manual_seed(0)
    nets = [torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))]
    nets.append(type(nets[0])(*[torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1)]))
    nets[1].load_state_dict(nets[0].state_dict())
    idle = [torch.nn.Parameter(torch.ones(3)) for _ in nets]  # never gets a gradient
    ours = Adam([*nets[0].parameters(), idle[0]], 1e-2, 1e-3)
    ref = torch.optim.Adam([*nets[1].parameters(), idle[1]], lr=1e-2, weight_decay=1e-3, fused=True)
    x = torch.randn(64, 5)
    for _ in range(5):
        for net, opt in zip(nets, (ours, ref), strict=True):
            opt.zero_grad()
            net(x).square().mean().backward()
            opt.step()
    for a, b in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(nets[0][0].weight, nets[0][0].weight.new_zeros(8, 5))
    assert torch.equal(idle[0], torch.ones(3)) and idle[0] not in ours.state
    with pytest.raises(ValueError, match="floating parameters on one device"):
        Adam([torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2).double())], 1e-3)


@pytest.mark.parametrize(
    "model",
    [
        "maf, 2 members",
        "rqs",
        "rqs, 1 member, 6 MADE blocks",
        "rqs, 2 members stacked",
        "classifier, 2 members",
    ],
)
def test_graph_replayed_training_is_eager_training_bit_for_bit(
    model, fake_cuda_graphs, monkeypatch
):
    """Item 2 of the GPU work, the part a CPU can check: the capture logic of
    :class:`EpochRunner` (warm-up steps undone, one graph per batch size, the index copied
    into the static buffer before each replay, no tensor of the step replaced after capture)
    gives exactly eager training: the same losses, selected epochs and models, bit for bit.
    The graphs are CPU stand-ins that rerun the captured step (:class:`_FakeGraph`); the real
    capture needs CUDA."""
    _stack_on_cpu(model, monkeypatch)
    eager = _fit(model, n_train=450, epochs=3)
    assert fake_cuda_graphs == []
    replayed = _fit(model, n_train=450, epochs=3, graphs=True)
    # 450 training events: batches of 128 (64) and a short last one of 66 (2), two graphs,
    # each replayed once per batch of that size
    sizes = sorted(call[1].shape[1] for g in fake_cuda_graphs for call in g.calls)
    assert sizes == ([2, 64] if model.startswith("classifier") else [66, 128])
    per_epoch = 3 if not model.startswith("classifier") else 7
    assert sum(g.replays for g in fake_cuda_graphs) == 3 * (per_epoch + 1)
    for a, b in zip(eager, replayed, strict=True):
        pd.testing.assert_frame_equal(a.history_, b.history_, check_exact=True)
        assert list(a.best_epochs_) == list(b.best_epochs_)
        for sa, sb in zip(a.states_, b.states_, strict=True):
            assert sa.keys() == sb.keys()
            for k in sa:
                assert torch.equal(sa[k], sb[k]), f"{model}: {k} differs"


# -- checkpoints: a killed training resumes to the numbers of an uninterrupted one ------------
class Killed(Exception):
    """Stands for the SIGKILL of a job in the middle of an epoch."""


def _resume_data():
    rng = np.random.default_rng(5)
    m = rng.uniform(-1, 1, 2000)
    X = np.column_stack([rng.normal(m, 1.0), rng.gamma(2.0, 1.0 + 0.3 * m), rng.normal(0, 1, 2000)])
    return X[:1500], m[:1500], X[1500:], m[1500:]


def _fit_killable(architecture, seeds, checkpoint=None, kill_at=None, monkeypatch=None, **over):
    """fit_members on small data; with ``kill_at``, the training dies in that epoch's steps."""
    from resonant_ad.core.flow import ConditionalFlow, fit_members

    kw = {"blocks": 2, "hidden": 16, "epochs": 7, "patience": 2, "n_best_epochs": 2}
    kw |= {"batch_size": 100, "learning_rate": 3e-3, "progress": False}
    kw["architecture"] = architecture
    if architecture == "rqs":
        kw |= {"bins": 4, "made_blocks": 1, "recompute_batchnorm": False}
    kw |= over
    if kill_at is not None:
        calls = Counter()
        real = EpochRunner.epoch

        def dying(self, perms):
            calls["epoch"] += 1
            if calls["epoch"] == kill_at:
                raise Killed
            return real(self, perms)

        monkeypatch.setattr(EpochRunner, "epoch", dying)
    try:
        flows = [ConditionalFlow(**kw, seed=s) for s in seeds]
        return fit_members(flows, *_resume_data(), checkpoint=checkpoint)
    finally:
        if kill_at is not None:
            monkeypatch.setattr(EpochRunner, "epoch", real)


def _same(a, b):
    """Two fits with the same epochs, losses and kept states, bit for bit."""
    for fa, fb in zip(a, b, strict=True):
        assert fa.best_epochs_ == fb.best_epochs_
        pd.testing.assert_frame_equal(fa.history_, fb.history_)
        for sa, sb in zip(fa.states_, fb.states_, strict=True):
            assert sa.keys() == sb.keys()
            assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize(
    ("architecture", "seeds"), [("maf", (1, 2, 3)), ("rqs", (4, 5)), ("rqs stacked", (4, 5))]
)
def test_killed_training_resumes_from_its_checkpoint_to_the_same_numbers(
    architecture, seeds, tmp_path, monkeypatch, caplog
):
    """Killed in its 4th epoch, the training resumes after epoch 3 (the members' model, Adam
    moments, shuffling and epoch selection restored) and ends where an uninterrupted one
    does: the same selected epochs, losses and states, bit for bit; then the file is gone."""
    monkeypatch.setenv("RESONANT_AD_CHECKPOINT_S", "0")  # a checkpoint after every epoch
    _stack_on_cpu(architecture, monkeypatch)
    stacked = architecture != "rqs"  # one model for all members
    architecture = architecture.split()[0]
    path = tmp_path / "flow.resume.pt"
    uninterrupted = _fit_killable(architecture, seeds)
    # stacked: one model for all members, killed in its 4th epoch; rqs on a CPU: one flow
    # after the other, the second killed in its 2nd epoch (the first's file is gone then)
    kill_at = 4 if stacked else 7 + 2
    with pytest.raises(Killed):
        _fit_killable(architecture, seeds, path, kill_at=kill_at, monkeypatch=monkeypatch)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == (["flow.resume.pt"] if stacked else ["flow.resume.pt.1"])
    with caplog.at_level("INFO", logger="resonant_ad.core.training"):
        resumed = _fit_killable(architecture, seeds, path)
    done = 3 if stacked else 1
    assert f"after epoch {done}" in caplog.text
    _same(uninterrupted, resumed)
    assert not list(tmp_path.iterdir())  # the checkpoint removed once the training ended


def test_a_checkpoint_of_other_settings_or_data_is_not_resumed(tmp_path, monkeypatch, caplog):
    """The file's key is a digest of the settings, seeds and data: another learning rate
    trains from the start (with a warning), and gives the numbers of a fresh training."""
    monkeypatch.setenv("RESONANT_AD_CHECKPOINT_S", "0")
    path = tmp_path / "flow.resume.pt"
    with pytest.raises(Killed):
        _fit_killable("maf", (1, 2), path, kill_at=4, monkeypatch=monkeypatch)
    assert path.exists()
    with caplog.at_level("INFO", logger="resonant_ad.core.training"):
        other = _fit_killable("maf", (1, 2), path, learning_rate=1e-3)
    assert "checkpoint of other data or settings, not resumed" in caplog.text
    assert "after epoch" not in caplog.text
    _same(other, _fit_killable("maf", (1, 2), learning_rate=1e-3))
    path.write_bytes(b"not a checkpoint")
    with caplog.at_level("INFO", logger="resonant_ad.core.training"):
        _same(_fit_killable("maf", (1, 2), path), _fit_killable("maf", (1, 2)))
    assert "unreadable checkpoint" in caplog.text


def test_resumed_graph_training_restores_adam_after_the_capture(
    tmp_path, monkeypatch, fake_cuda_graphs
):
    """With CUDA-graph steps (the CPU stand-in) the capture's warm-up steps are undone back
    to the resumed state, Adam's moments included, not to a fresh start: the resumed
    training ends where an uninterrupted graph training does, bit for bit."""
    monkeypatch.setenv("RESONANT_AD_CHECKPOINT_S", "0")
    path = tmp_path / "flow.resume.pt"
    uninterrupted = _fit_killable("maf", (1, 2), graphs="on")
    with pytest.raises(Killed):
        _fit_killable("maf", (1, 2), path, kill_at=3, monkeypatch=monkeypatch, graphs="on")
    resumed = _fit_killable("maf", (1, 2), path, graphs="on")
    assert sum(g.replays for g in fake_cuda_graphs) > 0
    _same(uninterrupted, resumed)


def test_killed_classifier_training_resumes_to_the_same_numbers(tmp_path, monkeypatch, caplog):
    """The NN classifiers of a job (here two groups of different data sizes, each its own
    file) resume too: killed in the second group's 2nd epoch, the rerun keeps the first
    group's result from scratch and the second's from its checkpoint, and every history
    (float32 losses) and kept state is an uninterrupted run's, bit for bit."""
    from resonant_ad.core.classifier import NeuralClassifierEnsemble, TrainingData, fit_members

    monkeypatch.setenv("RESONANT_AD_CHECKPOINT_S", "0")
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(700, 4)), (rng.uniform(size=700) < 0.4).astype(float)
    data = [
        TrainingData(X[:500], y[:500], X[500:], y[500:], np.ones(500), None),
        TrainingData(X[:400], y[:400], X[400:], y[400:], None, None),
    ]

    def fit(path=None):
        kw = {"hidden_layers": [8], "epochs": 5, "n_best_epochs": 2, "batch_size": 64}
        clfs = [NeuralClassifierEnsemble(**kw, seed=s) for s in (1, 2)]
        return fit_members(clfs, data, path)

    uninterrupted = fit()
    path = tmp_path / "history.resume.pt"
    calls = Counter()
    real = EpochRunner.epoch

    def dying(self, perms):
        calls["epoch"] += 1
        if calls["epoch"] == 7:
            raise Killed
        return real(self, perms)

    monkeypatch.setattr(EpochRunner, "epoch", dying)
    with pytest.raises(Killed):
        fit(path)
    monkeypatch.setattr(EpochRunner, "epoch", real)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.resume.pt.1"]
    with caplog.at_level("INFO", logger="resonant_ad.core.training"):
        resumed = fit(path)
    assert "history.resume.pt.1 after epoch 1" in caplog.text
    for a, b in zip(uninterrupted, resumed, strict=True):
        pd.testing.assert_frame_equal(a.history_, b.history_, check_exact=True)
        assert a.history_["train_loss"].dtype == np.float32
        assert list(a.best_epochs_) == list(b.best_epochs_)
        for sa, sb in zip(a.states_, b.states_, strict=True):
            assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not list(tmp_path.iterdir())


def test_checkpoint_interval_from_the_environment_is_checked(tmp_path, monkeypatch):
    from resonant_ad.core.training import Checkpoint

    monkeypatch.setenv("RESONANT_AD_CHECKPOINT_S", "a minute")
    with pytest.raises(ValueError, match="RESONANT_AD_CHECKPOINT_S='a minute': seconds"):
        Checkpoint(tmp_path / "x.resume.pt", "key")
    monkeypatch.setenv("RESONANT_AD_CHECKPOINT_S", "7.5")
    assert Checkpoint(tmp_path / "x.resume.pt", "key").interval_s == 7.5


def test_a_cpu_checkpoint_is_keyed_by_the_thread_count(tmp_path):
    """On a CPU the thread count moves sums' rounding (MKL's products, torch's softmax
    backward), so a training resumed with other threads starts afresh; on a GPU it does not
    enter the key."""
    from resonant_ad.core.flow import ConditionalFlow
    from resonant_ad.core.training import Checkpoint

    flows, data = [ConditionalFlow(seed=1)], np.arange(6.0)
    threads = torch.get_num_threads()

    def key(device: str, n: int) -> str:
        torch.set_num_threads(n)
        try:
            return Checkpoint.of(tmp_path / "f.resume.pt", flows, torch.device(device), data).key
        finally:
            torch.set_num_threads(threads)

    assert key("cpu", 1) == key("cpu", 1) != key("cpu", 2)
    assert key("cuda", 1) == key("cuda", 2) != key("cpu", 1)
