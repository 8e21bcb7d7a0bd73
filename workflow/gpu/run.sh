#!/usr/bin/env bash
# LaCATHODE's title claim on a lent GPU machine, as one prepared call (issue 33).
#   workflow/gpu/run.sh [claim|bench|all]          (default: claim)
# From the repository root on the machine, with the wheels of workflow/gpu/wheels.py in
# $WHEELS (default .whl; skipped when absent: then everything must be installed already).
#   claim  snakemake --profile workflow/profiles/gpu title_claim with
#          config/lhco_title_claim.yaml, in two passes: injection 0 alone first (the sculpting
#          claim, the must), then both injections (the SICs); each pass under `timeout`
#          ($CLAIM_S seconds for both together, default 540). A second call resumes where a
#          killed pass stopped: Snakemake reruns the killed job, and its flow training goes
#          on from the checkpoint it writes every $RESONANT_AD_CHECKPOINT_S seconds (here 20).
#          Before the first pass (STEP=auto, the default) `python -m resonant_ad.bench
#          step-choice` times the flow's CUDA-graph step against the fused one
#          (torch.compile) at the claim's sizes, while Snakemake builds the data on the CPU
#          beside it (`--until split`); the claim takes the fused step where it is
#          ≥ $STEP_MIN_GAIN× faster (default 1.25) and compiles (STEP=graph or STEP=compiled
#          decides without asking; the test sets STEP_MIN_GAIN=0: fused wherever it compiles).
#          A later call keeps the first call's choice (benchmarks/step_choice.json), so
#          that a resumed training goes on with the step it began with.
#   bench  python -m resonant_ad.bench gpu --parts $BENCH_PARTS under `timeout $BENCH_S`
#          (default 240): the training step eager, CUDA graph, compiled (steps); an epoch of
#          the di-tau paper's flow alone and as an ensemble of 3 (ditau_rqs).
#   all    claim, then bench.
# Whatever finished comes back in $OUT (the device tool's folder; default results/gpu-run):
#   log.txt        everything printed, with the wall time of each pass
#   machine.json   GPU, Python and package versions, the commit ($COMMIT, if given)
#   claim.tar.gz       the title claim's tables and figures, the Snakemake benchmark files
#                      and rules.md (seconds per rule)
#   claim-runs.tar.gz  every run's flow and classifier histories, and the jobs' logs
#   bench/         gpu_bench.csv, gpu_bench.json, gpu_bench.png
# OVERLAYS: more config files merged after config/lhco_title_claim.yaml (space-separated;
# e.g. one with `lhco_surrogate: {flow: {compiled: true}}`).
# SMOKE=1 adds $SMOKE_CONFIG (default tests/configs/title_claim_smoke.yaml: a tiny scale) and
# runs the bench with --smoke, on the CPU: it checks this script (tests/test_gpu_script.py),
# measures nothing.
set -uo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-claim}
OUT=${OUT:-results/gpu-run}
WHEELS=${WHEELS:-.whl}
CLAIM_S=${CLAIM_S:-540}
BENCH_S=${BENCH_S:-240}
BENCH_PARTS=${BENCH_PARTS:-steps,ditau_rqs}
SMOKE=${SMOKE:-0}
STEP=${STEP:-auto}
STEP_S=${STEP_S:-150}
STEP_MIN_GAIN=${STEP_MIN_GAIN:-1.25}
SMOKE_CONFIG=${SMOKE_CONFIG:-tests/configs/title_claim_smoke.yaml}
OVERLAYS=${OVERLAYS:-}
case $mode in claim | bench | all) ;; *)
    echo "run.sh: unknown mode '$mode' (claim, bench or all)" >&2
    exit 2
    ;;
esac
case $STEP in auto | graph | compiled) ;; *)
    echo "run.sh: unknown STEP '$STEP' (auto, graph or compiled)" >&2
    exit 2
    ;;
esac
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
tee_pid=$!
# on any exit, let tee write the last lines before the call collects $OUT
trap 'exec 1>&- 2>&-; wait "$tee_pid"' EXIT
start=$(date +%s)
stamp() { echo "== [$(($(date +%s) - start)) s] $*"; }

if compgen -G "$WHEELS/*.whl" >/dev/null; then
    site=${SITE:-/tmp/resonant-ad-site}
    wanted=$(cd "$WHEELS" && sha256sum -- *.whl)
    if [ "$(cat "$site/.wheels" 2>/dev/null)" = "$wanted" ]; then
        stamp "the wheels are installed in $site already (an earlier call)"
    else
        stamp "installing $(ls "$WHEELS"/*.whl | wc -l) wheels into $site"
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target "$site" "$WHEELS"/*.whl || exit 1
        echo "$wanted" >"$site/.wheels"
    fi
    export PYTHONPATH=$PWD/src:$site${PYTHONPATH:+:$PYTHONPATH}
    export PATH=$site/bin:$PATH
else
    export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1
export RESONANT_AD_CHECKPOINT_S=${RESONANT_AD_CHECKPOINT_S:-20}

stamp "machine"
python3 - "$OUT/machine.json" <<'EOF' || exit 1
"""The machine, Python and the packages this run uses, as JSON (fails if one is missing)."""
import json, os, platform, subprocess, sys
from importlib import metadata, import_module

import torch

sys.path.insert(0, "workflow/gpu")
from wheels import WANTED, image_packages  # what the wheels carry: each must import
from packaging.utils import canonicalize_name

names = ["torch", "numpy", "pandas", "pyarrow", "scikit-learn", "matplotlib", *WANTED]
for module in (*WANTED, "resonant_ad"):
    import_module(module)
info = {
    "commit": os.environ.get("COMMIT", "unknown"),
    "python": platform.python_version(),
    "cpus": os.cpu_count(),
    "cuda": torch.cuda.is_available(),
    "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    "versions": {n: metadata.version(n) for n in names},
}
# device-packages.txt goes stale when the image changes: what it lists, the wheels leave out
have = {canonicalize_name(d.metadata["Name"]) for d in metadata.distributions()}
info["image_packages_missing"] = sorted(image_packages() - have)
if info["image_packages_missing"]:
    print("device-packages.txt lists packages this machine lacks (the wheels leave them out):",
          " ".join(info["image_packages_missing"]), file=sys.stderr)
if info["cuda"]:
    smi = ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv"]
    info["nvidia_smi"] = subprocess.run(smi, capture_output=True, text=True).stdout
json.dump(info, open(sys.argv[1], "w"), indent=1)
print(json.dumps(info, indent=1))
EOF

CHOICE=benchmarks/step_choice.json
# whether choose_step will time the steps (STEP=auto, and no earlier call's choice)
step_unmeasured() { [ "$STEP" = auto ] && [ ! -s $CHOICE ]; }
# seconds left of $CLAIM_S
claim_left() { echo $((CLAIM_S - ($(date +%s) - start))); }

# the flow's step for the claim: prints "compiled" or "graph" (STEP, or measured once)
choose_step() {
    local args=()
    if [ "$STEP" != auto ]; then
        echo "$STEP"
        return
    fi
    if step_unmeasured; then
        mkdir -p benchmarks
        [ "$SMOKE" = 1 ] && args=(--members 2 --batch 64 --steps 5 --blocks 2)
        stamp "step choice: the flow's step against the fused one (at most $STEP_S s)" >&2
        if ! timeout "$STEP_S" python3 -m resonant_ad.bench step-choice --out $CHOICE.part \
            --min-gain "$STEP_MIN_GAIN" "${args[@]}" >&2; then
            stamp "step choice failed: the graph step" >&2
            echo graph
            return
        fi
        mv $CHOICE.part $CHOICE
    fi
    python3 -c 'import json, sys; print("compiled" if json.load(open(sys.argv[1]))["compiled"] else "graph")' $CHOICE
}

claim() {
    local configs=(config/lhco_title_claim.yaml) left pass rc=0 t0 step
    # shellcheck disable=SC2206  # a space-separated list of paths
    configs+=($OVERLAYS)
    [ "$SMOKE" = 1 ] && configs+=("$SMOKE_CONFIG")
    local smk=(python3 -m snakemake --profile workflow/profiles/gpu --scheduler greedy
        title_claim --configfile "${configs[@]}")
    # the data (generation, injection, split: CPU jobs, ~1 min at the paper's size) while
    # the step choice times the GPU; the first pass builds whatever this did not finish
    local data_pid= data_s
    data_s=$(claim_left)
    if step_unmeasured && [ "$data_s" -gt 10 ]; then
        stamp "claim: the data jobs beside the step choice (snakemake --until split)"
        (
            t0=$(date +%s)
            timeout "$data_s" "${smk[@]}" --until split
            rc=$?
            stamp "claim, data jobs: exit $rc after $(($(date +%s) - t0)) s"
        ) &
        data_pid=$!
    fi
    step=$(choose_step)
    [ -n "$data_pid" ] && wait "$data_pid"
    stamp "claim: the flow trains with the $step step"
    if [ "$step" = compiled ]; then
        echo "lhco_surrogate: {flow: {compiled: true}}" >"${TMPDIR:-/tmp}/resonant-ad-fused.yaml"
        smk+=("${TMPDIR:-/tmp}/resonant-ad-fused.yaml")  # the last of --configfile's list
    fi
    for pass in sculpting full; do
        left=$(claim_left)
        if [ "$left" -le 10 ]; then
            stamp "claim: no time left for the $pass pass"
            return 124
        fi
        t0=$(date +%s)
        stamp "claim, $pass pass (at most $left s)"
        if [ $pass = sculpting ]; then
            timeout "$left" "${smk[@]}" --config 'lhco_surrogate={injections: [0]}'
        else
            timeout "$left" "${smk[@]}"
        fi
        rc=$?
        stamp "claim, $pass pass: exit $rc after $(($(date +%s) - t0)) s"
        [ $rc -ne 0 ] && return $rc
    done
    return 0
}

pack_claim() {
    local root=results/lhco_surrogate/shifted
    stamp "packing the claim's results"
    python3 -m resonant_ad.bench rules benchmarks --csv benchmarks/rules.csv >benchmarks/rules.md
    # the tables, figures and timings; then the per-run histories and the logs (each file
    # that comes back is at most 16 MiB)
    {
        find "$root" -maxdepth 3 -type f \( -name '*.csv' -o -name '*.png' \) 2>/dev/null
        find benchmarks -type f 2>/dev/null
    } | tar -czf "$OUT/claim.tar.gz" -T - || return 1
    find "$root" logs -type f \( -name 'history.csv' -o -name '*.json' -o -name 'loss.png' \
        -o -name '*.log' \) 2>/dev/null |
        tar -czf "$OUT/claim-runs.tar.gz" -T - || return 1
    ls -l "$OUT"/claim*.tar.gz
}

bench() {
    local args=(--parts "$BENCH_PARTS" --out "$OUT/bench")
    [ "$SMOKE" = 1 ] && args+=(--smoke)
    stamp "bench: gpu ${args[*]} (at most $BENCH_S s)"
    timeout "$BENCH_S" python3 -m resonant_ad.bench gpu "${args[@]}"
    local rc=$?
    stamp "bench: exit $rc"
    return $rc
}

status=0
if [ "$mode" != bench ]; then
    claim || status=$?
    pack_claim || status=$?
fi
if [ "$mode" != claim ]; then
    bench || status=$?
fi
stamp "done (exit $status)"
exit $status
