"""aimc perf: the peak check against the published figures, the per-layer JSON of a real network
(totals add up, replication of the bottleneck), and one-line errors for bad input."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: aimc_test_env
from aimc_test_env import AIMC, MODELS, need  # noqa: E402
ROOT = Path(__file__).resolve().parents[2]
HERMES = ROOT / "configs" / "chips" / "hermes64.ini"

# Le Gallo et al., Nature Electronics 2023.
PUBLISHED = {
    ("one_phase", "tops"): 63.1,
    ("one_phase", "tops_per_w"): 9.76,
    ("four_phase", "tops"): 16.1,
    ("four_phase", "tops_per_w"): 2.48,
    ("four_phase", "gops_per_mm2"): 400.0,
}


def perf(*args):
    if not AIMC:
        pytest.skip("AIMC_BIN not set: run through ctest")
    return subprocess.run([AIMC, "perf", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def need_model(name):
    return need(MODELS / f"{name}.h5")


def test_peak_json_matches_the_paper_within_2_percent():
    proc = perf("--chip", HERMES, "--peak", "--json")
    assert proc.returncode == 0, proc.stderr
    peak = json.loads(proc.stdout)
    assert set(peak) == {"one_phase", "four_phase"}
    for mode in peak:
        assert set(peak[mode]) == {"tops", "tops_per_w", "gops_per_mm2"}
    for (mode, key), expected in PUBLISHED.items():
        assert abs(peak[mode][key] - expected) <= 0.02 * expected, (mode, key, peak[mode][key])


def test_peak_experiment_passes_from_any_directory(tmp_path):
    if not AIMC:
        pytest.skip("AIMC_BIN not set: run through ctest")
    proc = subprocess.run([AIMC, "perf", "--experiment", str(ROOT / "experiments" / "peak_mvm.ini"),
                           "--json"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["passed"] is True
    assert {c["figure"] for c in result["checks"]} == {f"{m}.{k}" for m, k in PUBLISHED}
    # A chip that misses the figures fails the check with exit code 1.
    proc = subprocess.run([AIMC, "perf", "--experiment", str(ROOT / "experiments" / "peak_mvm.ini"),
                           "--set", "perf.chip_area_mm2=50"], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 1
    assert "FAIL" in proc.stdout


def test_model_layers_add_up_and_replication_raises_throughput():
    model = need_model("resnet20")
    proc = perf("--model", model, "--chip", HERMES, "--json")
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    layers = r["layers"]
    assert len(layers) == 20
    assert r["macs_per_image"] == 40551040  # README: 40.6 M MAC/image
    assert sum(l["macs_per_image"] for l in layers) == r["macs_per_image"]
    assert sum(l["energy_nJ"] for l in layers) == pytest.approx(r["energy_uJ_per_image"] * 1e3)
    assert sum(l["latency_ns"] for l in layers) == pytest.approx(r["latency_us"] * 1e3)
    assert sum(l["cores"] for l in layers) == r["cores_used"]
    assert r["images_per_s"] == pytest.approx(1e9 / max(l["stage_ns"] for l in layers))
    assert r["gops"] == pytest.approx(2 * r["macs_per_image"] * r["images_per_s"] * 1e-9)
    # The 32 x 32 layers (1024 MVMs per image) are the bottleneck; the 16 x 16 ones have 256.
    slow = [l["name"] for l in layers if l["mvms_per_image"] == 1024]
    assert r["bottleneck"] in slow
    # Replicating them r times divides their stage by r, until the 256-MVM layers set the pace
    # at r = 4 (7 x 3 extra cores: 57 of 64).
    for rep in (2, 4):
        args = [a for name in slow for a in ("--replicate", f"{name}={rep}")]
        proc = perf("--model", model, "--chip", HERMES, "--json", *args)
        assert proc.returncode == 0, proc.stderr
        faster = json.loads(proc.stdout)
        assert faster["images_per_s"] == pytest.approx(rep * r["images_per_s"])
        assert faster["cores_used"] == r["cores_used"] + 7 * (rep - 1)
        assert faster["energy_uJ_per_image"] == pytest.approx(r["energy_uJ_per_image"])


def test_replication_beyond_the_chip_is_one_error_line():
    model = need_model("resnet20")
    proc = perf("--model", model, "--chip", HERMES, "--replicate", "conv1=100")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert re.match(r"aimc perf: error: .*needs \d+ cores, the chip has 64", lines[0]), lines[0]


@pytest.mark.parametrize("args, fragment", [
    (["--set", "perf.input_energy_share=2"], "perf.input_energy_share = 2"),
    (["--set", "perf.read_mode=two_phase"], "perf.read_mode"),
    (["--set", "perf.chip_area_mm2=-1"], "perf.chip_area_mm2"),
])
def test_bad_perf_keys_are_one_error_line(args, fragment):
    proc = perf("--chip", HERMES, "--peak", *args)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("aimc perf: error: ") and fragment in lines[0], lines[0]
