import logging

import pytest

from resonant_ad.pipeline import smk


def test_source_hash_follows_package_imports():
    closure = smk.source_modules("studies.toy.data")
    assert {
        "resonant_ad.studies.toy.data",
        "resonant_ad.core.regions",
        "resonant_ad.core.seeding",
        "resonant_ad.core.io",
    } <= set(closure)
    # generation must not rerun on classifier edits; the analysis must
    assert "resonant_ad.core.classifier" not in closure
    assert "resonant_ad.core.classifier" in smk.source_modules("studies.toy.analysis")


def test_source_hash_is_stable_and_distinct():
    toy = smk.source_hash("studies.toy.data")
    assert toy == smk.source_hash("resonant_ad.studies.toy.data")
    assert toy != smk.source_hash("studies.toy.analysis")
    assert len(smk.source_hash("stats.metrics")) == 12
    paths = {smk.source_hash("studies.toy.data", code_path=p) for p in smk.CODE_PATHS}
    assert len(paths | {toy}) == 4  # each CPU code path its own digest, none the plain one
    with pytest.raises(ValueError, match="cpu_code_path: 'avx512'"):
        smk.source_hash("studies.toy.data", code_path="avx512")


def test_the_fit_code_is_in_no_code_hash_before_the_bump_hunt():
    """A change to the dijet fit reruns the fits only: the flows, classifiers, flow
    diagnostics and the di-τ chain do not import it (the side-band helpers they share with
    the bump hunt live in ``stats.bands``)."""
    fit = {"resonant_ad.stats.dijet_fit", "resonant_ad.stats.bumphunt"}
    for module in ("stages.flows", "stages.classify", "stages.checks", "studies.ditau.study"):
        assert not fit & set(smk.source_modules(module)), module
    assert fit <= set(smk.source_modules("studies.dijet.bumphunt_figures"))


def test_relative_imports_resolved(tmp_path):
    src = tmp_path / "mod.py"
    src.write_text("from .methods import method\nfrom ..core import io\nimport numpy\n")
    found = smk._package_imports("resonant_ad.stages.mod", src)
    assert {"resonant_ad.stages.methods", "resonant_ad.core.io"} <= found
    assert not any(name.startswith("numpy") for name in found)


def test_each_module_is_parsed_once_and_an_edit_is_seen(tmp_path):
    """Every rule's code hash walks the same modules: a second walk parses nothing, and a
    module whose text changed is parsed again (the cache is keyed by the text)."""
    closure = smk.source_modules("studies.dijet.bumphunt_figures")
    before = smk._imports_in_source.cache_info()
    smk.source_hash("studies.dijet.bumphunt_figures")
    smk.source_hash(*closure)  # the same modules, as another rule's hash would walk them
    after = smk._imports_in_source.cache_info()
    assert after.misses == before.misses and after.hits > before.hits
    src = tmp_path / "mod.py"
    src.write_text("from ..core import io\n")
    assert "resonant_ad.stats.metrics" not in smk._package_imports("resonant_ad.stages.mod", src)
    src.write_text("from ..core import io\nfrom ..stats import metrics\n")
    assert "resonant_ad.stats.metrics" in smk._package_imports("resonant_ad.stages.mod", src)


def test_logged_writes_log_and_reraises(tmp_path):
    log_file = tmp_path / "job.log"
    with pytest.raises(ValueError, match="boom"), smk.logged(str(log_file)):
        logging.getLogger("resonant_ad.test").info("hello from the job")
        raise ValueError("boom")
    text = log_file.read_text()
    assert "hello from the job" in text
    assert "ValueError: boom" in text


def test_package_import_is_followed_and_patterns_are_not_hashed():
    # `from resonant_ad.stages import flows` names the package, then the module
    closure = smk.source_modules("bench.chain")
    assert {"resonant_ad.stages.flows", "resonant_ad.pipeline.config"} <= closure.keys()
    # path patterns, job files and targets are the DAG's, not a computation
    assert not {f"resonant_ad.pipeline.{m}" for m in ("patterns", "files", "targets")} & set(
        closure
    )


def test_run_each_calls_in_order_and_logs_each_label(caplog):
    calls = []
    with caplog.at_level(logging.INFO, logger="resonant_ad"):
        smk.run_each(
            lambda a, b=0: calls.append((a, b)), [("run 0", (1,)), ("run 1", (2,), {"b": 3})]
        )
    assert calls == [(1, 0), (2, 3)]
    assert [r.getMessage() for r in caplog.records] == ["run 0", "run 1"]


def test_run_each_removes_the_calls_checkpoints_only_once_all_succeed(tmp_path):
    """A group job's finished trainings keep their checkpoints until its last call is done:
    a failure leaves them for the rerun, success removes them (with a killed write's part)."""
    resume = [tmp_path / "a.resume.pt", tmp_path / "b.resume.pt"]
    leftover = tmp_path / ".b.resume.pt.x1.part"

    def train(i):
        resume[i].write_text("members")
        if i == 1 and not leftover.exists():
            leftover.write_text("")
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        smk.run_each(train, [("0", (0,)), ("1", (1,))], resume)
    assert all(p.exists() for p in resume)
    smk.run_each(train, [("0", (0,)), ("1", (1,))], resume)
    assert not any(p.exists() for p in [*resume, leftover])


def _dijet_config(runs_per_job):
    windows = [[2.9, 3.3], [3.3, 3.7]]
    study = {
        "signal_region": [3.3, 3.7],
        "runs": 3,
        "methods": ["cathode", "lacathode", "idealized"],
        "scan": {"windows": windows, "runs": 1, "methods": ["cathode"]},
    }
    return {"studies": ["lhco_surrogate"], "runs_per_job": runs_per_job, "lhco_surrogate": study}


@pytest.mark.parametrize(
    ("per_job", "nominal_groups"),
    [("all", [(0, 1, 2)]), (2, [(0, 1), (2,)]), (1, [(0,), (1,), (2,)])],
)
def test_bump_hunt_jobs_cover_every_run_and_method_once(per_job, nominal_groups):
    """The nominal window's runs in groups with every method; the scan's extra window with the
    scan's methods, in a job of its own even where its runs' label is a nominal one's."""
    from resonant_ad.pipeline import files

    groups = files.bumphunt_groups(_dijet_config(per_job))
    nominal = [(runs, methods) for _, kind, runs, methods, _ in groups if kind == ""]
    assert [runs for runs, _ in nominal] == nominal_groups
    assert all(m == ["cathode", "lacathode", "idealized"] for _, m in nominal)
    scan = [(runs, methods, w) for _, kind, runs, methods, w in groups if kind == "scan"]
    assert scan == [((0,), ["cathode"], ["2.9-3.3"])]
    outs = files.bumphunt_group_outputs("lhco_surrogate", (0, 1), ["cathode", "idealized"])
    per = files.per_run(outs, (0, 1))
    assert sorted(per[1]) == [
        "bins_cathode",
        "bins_idealized",
        "results_cathode",
        "results_idealized",
    ]
    assert per[1]["results_idealized"].endswith("run1/idealized/bumphunt.csv")
    assert "{feature_set}" in per[1]["results_idealized"]  # the other wildcards stay


def test_group_files_round_trip_through_per_run():
    from resonant_ad.pipeline import files

    outs = files.run_files("s", (3, 4), model="a/run{run}/{study}.pt", samples="b/run{run}.pq")
    assert files.per_run(outs, (4, 3)) == [
        {"model": "a/run4/s.pt", "samples": "b/run4.pq"},
        {"model": "a/run3/s.pt", "samples": "b/run3.pq"},
    ]
    toy = files.per_run(files.toy_group_outputs((0, 1)), (0, 1))
    assert toy[1]["scores"] == "results/toy/c{c}/{space}/run1/scores.parquet"
    from resonant_ad.pipeline import ditau_files

    ditau = {"injections": [0, 0.5], "repeats": 2}
    trainings = ditau_files.ditau_group_trainings(ditau, (0, 1))
    assert trainings == [("0", 0), ("0", 1), ("0.5", 0), ("0.5", 1)]
    outputs = ditau_files.ditau_group_outputs(ditau, (0, 1))
    assert outputs["scores_2"] == "results/ditau/{signal}/sigma0.5/repeat0/scores.parquet"
    assert list(ditau_files.ditau_group_samples((1,))) == ["samples_1"]


def test_di_tau_classifier_jobs_follow_runs_per_job_and_need_a_di_tau_section():
    from resonant_ad.pipeline.ditau_files import ditau_repeat_groups

    ditau = {"repeats": 5}
    assert ditau_repeat_groups({"runs_per_job": "all", "ditau": ditau}) == [(0, 1, 2, 3, 4)]
    assert ditau_repeat_groups({"runs_per_job": 2, "ditau": ditau}) == [(0, 1), (2, 3), (4,)]
    assert ditau_repeat_groups({"runs_per_job": "all"}) == []  # a dijet-only config


def test_optional_input_is_the_one_file_or_none():
    """A named input that an input function leaves empty (a step turned off) reads as None,
    one file as its path, whatever Snakemake's list wrapping."""
    from types import SimpleNamespace

    from snakemake.iocontainers import InputFiles

    on = InputFiles(["model.pt", "ratio.pt"])
    on._set_name("model", 0)
    on._set_name("ratio", 1, end=2)
    off = InputFiles(["model.pt"])
    off._set_name("model", 0)
    off._set_name("ratio", 1, end=1)
    assert smk.optional_input(SimpleNamespace(input=on), "ratio") == "ratio.pt"
    assert smk.optional_input(SimpleNamespace(input=off), "ratio") is None
    assert smk.optional_input(SimpleNamespace(input=on), "model") == "model.pt"
    two = InputFiles(["a", "b"])
    two._set_name("ratio", 0, end=2)
    with pytest.raises(ValueError, match="holds 2 files"):
        smk.optional_input(SimpleNamespace(input=two), "ratio")


#: a few steps of a small di-tau RQ-spline flow in a fresh process: a digest of its trained
#: parameters (every last bit of every weight, not only the loss's rounding)
_TRAIN = """
import hashlib, torch
from resonant_ad.core.rqs import NflowsRQS
torch.manual_seed(0); torch.set_num_threads(1)
flow = NflowsRQS(14, 1, blocks=3, hidden=128, bins=12, made_blocks=2)
x, c = torch.randn(1024, 14), torch.rand(1024, 1)
opt = torch.optim.Adam(flow.parameters(), 1e-3)
for _ in range(10):
    loss = -flow.log_prob(x, c).mean()
    opt.zero_grad(); loss.backward(); opt.step()
weights = torch.cat([p.detach().flatten() for p in flow.parameters()]).numpy().tobytes()
print(hashlib.sha256(weights).hexdigest()[:16], torch.backends.cpu.get_cpu_capability())
"""


def _train(env: dict[str, str]) -> tuple[str, str]:
    import subprocess
    import sys

    base = smk.child_environment("native")  # MKL's reproducible mode, and what ``env`` pins
    out = subprocess.run(
        [sys.executable, "-c", _TRAIN], env={**base, **env}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    digest, capability = out.stdout.split()
    return digest, capability


def test_pin_cpu_code_path_sets_the_avx2_environment_and_native_only_mkls_reproducible_mode(
    monkeypatch,
):
    for var in smk.PINNED_VARS:
        monkeypatch.delenv(var, raising=False)
    assert smk.pin_cpu_code_path("native") == {"MKL_CBWR": "AUTO"}  # no instructions held
    assert __import__("os").environ["MKL_CBWR"] == "AUTO"
    env = smk.pin_cpu_code_path("avx2")
    assert env.items() >= smk.AVX2_ENV.items()
    assert env.get("NPY_DISABLE_CPU_FEATURES", "").split() == smk.numpy_avx512_targets()
    with pytest.raises(ValueError, match="cpu_code_path: 'avx512'"):
        smk.pin_cpu_code_path("avx512")
    portable = smk.pin_cpu_code_path("portable")
    assert portable == {**env, "MKL_CBWR": "COMPATIBLE"}  # avx2 with MKL's vendor-free branch
    monkeypatch.setattr(smk, "_has_avx2", lambda: False)  # no AVX2 path to hold: native's
    assert smk.cpu_code_path_env("avx2") == smk.cpu_code_path_env("native")


@pytest.mark.parametrize(
    ("vendor", "mode", "said"),
    [
        ("AuthenticAMD", "avx2", True),
        ("GenuineIntel", "avx2", False),
        ("AuthenticAMD", "portable", False),
        ("AuthenticAMD", "native", False),
        ("", "avx2", False),
    ],
)
def test_avx2_off_intel_cpus_is_said_with_the_portable_way_out(monkeypatch, vendor, mode, said):
    """MKL holds MKL_CBWR=AVX2 on Intel CPUs only: on another vendor's the run says its
    numbers are that CPU's and names `portable`; elsewhere, and for the other paths, nothing."""
    monkeypatch.setattr(smk, "cpu_vendor", lambda: vendor)
    monkeypatch.setattr(smk, "_has_avx2", lambda: True)
    warning = smk.code_path_warning(mode)
    assert (warning is not None) == said
    if said:
        assert warning.startswith(f"cpu_code_path: avx2 on this {vendor} CPU")
        assert "cpu_code_path: portable" in warning
    monkeypatch.setenv("MKL_CBWR", "AVX2")
    assert ("not held on this" in smk.code_path_summary()) == (vendor == "AuthenticAMD")


def test_avx2_code_path_trains_the_same_flow_whatever_the_cpu_offers(monkeypatch):
    """An AVX2-only CPU is emulated on this one by capping MKL at AVX2: pinned, the flow's
    trained weights are bit for bit the same; on an AVX-512 CPU, left native, they are not
    (the reason for the pin: the flow's last bits grow through every step after it)."""
    for var in smk.PINNED_VARS:
        monkeypatch.delenv(var, raising=False)
    pinned = smk.pin_cpu_code_path("avx2")
    avx2_cpu = {"MKL_ENABLE_INSTRUCTIONS": "AVX2", **smk.AVX2_ENV}
    here, capability = _train(pinned)
    assert capability == "AVX2"
    assert _train({**pinned, "MKL_ENABLE_INSTRUCTIONS": "AVX2"})[0] == here
    native, native_capability = _train({})
    if native_capability.startswith("AVX512"):
        assert native != _train(avx2_cpu)[0]
        assert native != here


def test_portable_code_path_holds_mkl_whatever_instructions_it_may_use(monkeypatch):
    """`portable` puts MKL on its COMPATIBLE branch: the flow's weights are bit for bit the same
    with MKL capped at SSE4.2 (an older or another vendor's CPU, emulated) and differs from
    the avx2 path's (the branch is really switched)."""
    for var in smk.PINNED_VARS:
        monkeypatch.delenv(var, raising=False)
    portable = smk.cpu_code_path_env("portable")
    here, capability = _train(portable)
    assert capability == "AVX2"
    assert _train({**portable, "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"})[0] == here
    assert _train(smk.cpu_code_path_env("avx2"))[0] != here
