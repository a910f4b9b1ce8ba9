"""scripts/crossval_aihwkit.py without aimc: the z-score and the PASS/FAIL rule, the reference
file's reading and finding, the skip-or-fail exit when it is absent, and the aimc command line.
The end-to-end run is the crossval_aihwkit ctest (label crossval)."""

import json
import math
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import crossval_aihwkit as cv  # noqa: E402
from crossval_aihwkit import Stat  # noqa: E402

REFERENCE = {
    "images": {"split": "test", "first": 2000},
    "software_accuracy": 92.7,
    "runs": [{"name": "other", "chips": 5, "points": [{"t_inference_s": 3600, "mean": 1, "sd": 1}]},
             {"name": "noise_only", "chips": 4,
              "points": [{"t_inference_s": 86400, "mean": 80.0, "sd": 2.0},
                         {"t_inference_s": 3600, "mean": 88.0, "sd": 2.0}]}],
}


def test_z_is_the_difference_over_its_standard_error():
    # se = 2/sqrt(4) = 1 and 3/sqrt(9) = 1: z = (90 - 88) / sqrt(2)
    assert cv.z_score(Stat(90, 2, 4), Stat(88, 3, 9)) == pytest.approx(2 / math.sqrt(2))
    assert cv.z_score(Stat(86, 2, 4), Stat(88, 3, 9)) == pytest.approx(-2 / math.sqrt(2))
    assert cv.z_score(Stat(90, 2, 4), Stat(88, 0, 20)) == pytest.approx(2)


def test_z_without_spread():
    assert cv.z_score(Stat(88, 0, 4), Stat(88, 0, 4)) == 0
    assert cv.z_score(Stat(89, 0, 4), Stat(88, 0, 4)) == math.inf
    assert cv.z_score(Stat(87, 0, 4), Stat(88, 0, 4)) == -math.inf
    # One chip: no standard deviation, so no z (aimc writes NaN for it)
    assert math.isnan(cv.z_score(Stat(88, math.nan, 1), Stat(88, 1, 4)))
    assert math.isnan(Stat(88, 1.0, 1).se)


def test_pass_is_inclusive_at_the_threshold():
    ref = {3600.0: Stat(88, 2, 4)}  # se 1; with aimc's se 0, z = delta
    at = cv.compare({3600.0: Stat(91, 0, 4)}, ref, max_z=3)
    assert at[0].z == pytest.approx(3) and at[0].ok and cv.passed(at)
    above = cv.compare({3600.0: Stat(91.01, 0, 4)}, ref, max_z=3)
    assert not above[0].ok and not cv.passed(above)
    below = cv.compare({3600.0: Stat(84.99, 0, 4)}, ref, max_z=3)
    assert below[0].z < -3 and not cv.passed(below)
    assert cv.passed(cv.compare({3600.0: Stat(91.01, 0, 4)}, ref, max_z=3.5))


def test_every_reference_point_must_pass():
    ref = {3600.0: Stat(88, 2, 4), 86400.0: Stat(80, 2, 4)}
    rows = cv.compare({86400.0: Stat(90, 0, 4), 3600.0: Stat(88.5, 0, 4)}, ref, max_z=3)
    assert [r.t for r in rows] == [3600.0, 86400.0]
    assert [r.ok for r in rows] == [True, False]
    assert not cv.passed(rows)
    assert cv.worst(rows).t == 86400.0
    line = cv.verdict(rows, 3)
    assert line.startswith("FAIL") and "+10.00" in line and "t = 86400 s" in line


def test_pass_verdict_names_the_worst_point():
    ref = {3600.0: Stat(88, 2, 4), 86400.0: Stat(80, 2, 4)}
    rows = cv.compare({3600.0: Stat(88.5, 0, 4), 86400.0: Stat(78, 0, 4)}, ref, max_z=3)
    assert cv.passed(rows)
    assert cv.verdict(rows, 3) == "PASS: |z| <= 3 at every point (worst z = -2.00 at t = 86400 s)"


def test_a_missing_or_undefined_point_fails():
    ref = {3600.0: Stat(88, 2, 4), 86400.0: Stat(80, 2, 4)}
    # aimc's extra times are not compared; the reference's missing one fails.
    rows = cv.compare({3600.0: Stat(88, 1, 4), 60.0: Stat(0, 0, 4)}, ref, max_z=3)
    assert [r.t for r in rows] == [3600.0, 86400.0]
    assert rows[1].aimc is None and not rows[1].ok and not cv.passed(rows)
    assert cv.verdict(rows, 3) == "FAIL: aimc has no result at t = 86400 s"
    one_chip = cv.compare({3600.0: Stat(88, math.nan, 1), 86400.0: Stat(80, 1, 4)}, ref, 3)
    assert not cv.passed(one_chip)
    assert cv.verdict(one_chip, 3).startswith("FAIL: z undefined at t = 3600 s")
    assert not cv.passed([])
    assert cv.verdict([], 3).startswith("FAIL")


def test_markdown_and_json():
    ref = {3600.0: Stat(88, 2, 4), 86400.0: Stat(80, 2, 4)}
    rows = cv.compare({3600.0: Stat(88.5, 1, 4)}, ref, max_z=3)
    table = cv.markdown(rows)
    assert "| 3600 | 88.50 ± 1.00 (4) | 88.00 ± 2.00 (4) | +0.50 | +0.45 |" in table
    assert "| 86400 | - | 80.00 ± 2.00 (4) | - | - ✗ |" in table
    out = cv.to_json(rows, 3.0, chips=4, nan_extra=math.nan)
    text = json.dumps(out, allow_nan=False)  # no NaN reaches the file
    back = json.loads(text)
    assert back["pass"] is False and back["chips"] == 4 and back["nan_extra"] is None
    assert back["points"][0]["t_inference_s"] == 3600
    assert back["points"][0]["aimc"]["se"] == pytest.approx(0.5)
    assert back["points"][1]["aimc"] is None and back["points"][1]["z"] is None


def test_load_reference_takes_the_named_run(tmp_path):
    path = tmp_path / "ref.json"
    path.write_text(json.dumps(REFERENCE))
    points, doc = cv.load_reference(path)
    assert points == {3600.0: Stat(88.0, 2.0, 4), 86400.0: Stat(80.0, 2.0, 4)}
    assert doc["software_accuracy"] == 92.7
    path.write_text(json.dumps({"runs": []}))
    with pytest.raises(cv.CrossvalError, match="noise_only"):
        cv.load_reference(path)


def test_the_shipped_reference_reads():
    """The real reference, where this checkout has the shared data: its noise_only run is what the
    brief says (20 chips at 1 h and 1 day)."""
    path = ROOT.parent / "shared" / "data" / "references" / cv.REFERENCE_NAME
    if not path.is_file():
        pytest.skip(f"{path} absent")
    points, _ = cv.load_reference(path)
    assert sorted(points) == [3600.0, 86400.0]
    assert all(s.n == 20 for s in points.values())


def test_find_reference_order(tmp_path, monkeypatch):
    monkeypatch.setattr(cv, "REPO", tmp_path / "repo")
    shared = tmp_path / "shared" / "data" / "references" / cv.REFERENCE_NAME
    own = tmp_path / "mine" / "references" / cv.REFERENCE_NAME
    for p in (shared, own):
        p.parent.mkdir(parents=True)
        p.write_text("{}")
    assert cv.find_reference(None, {"AIMC_DATA": str(tmp_path / "mine")}) == own
    assert cv.find_reference(None, {"AIMC_DATA": str(tmp_path / "nothing")}) == shared
    assert cv.find_reference(None, {}) == shared
    shared.unlink()
    with pytest.raises(cv.MissingInput, match="not found"):
        cv.find_reference(None, {})
    # A path given on the command line must exist: that is an error, never a skip.
    with pytest.raises(cv.CrossvalError):
        cv.find_reference(str(tmp_path / "absent.json"), {})


@pytest.mark.parametrize("require, code, word", [(None, 77, "SKIPPED"), ("1", 1, "error")])
def test_absent_reference_skips_or_fails(tmp_path, monkeypatch, capsys, require, code, word):
    monkeypatch.setattr(cv, "REPO", tmp_path / "repo")
    monkeypatch.delenv("AIMC_DATA", raising=False)
    if require:
        monkeypatch.setenv("AIMC_REQUIRE_DATA", require)
    else:
        monkeypatch.delenv("AIMC_REQUIRE_DATA", raising=False)
    assert cv.main(["--aimc", str(tmp_path / "no-aimc")]) == code
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"crossval_aihwkit: {word}") and cv.REFERENCE_NAME in last


def test_aimc_command(tmp_path, monkeypatch):
    monkeypatch.setenv("AIMC_MPIEXEC", "/opt/mpi/bin/mpiexec --oversubscribe")
    monkeypatch.chdir(tmp_path)
    args = cv.parse_args(["--aimc", "bin/aimc", "--chips", "3", "--images", "50", "--seed", "9",
                          "--threads", "2", "--data", "cifar", "--model", "m.h5",
                          "--set", "chip.drift.compensation=none", "--ranks", "2"])
    cmd = cv.aimc_command(args, tmp_path / "out.h5")
    assert cmd[:6] == ["/opt/mpi/bin/mpiexec", "--oversubscribe", "-n", "2", "--bind-to", "none"]
    rest = cmd[6:]
    assert rest[:5] == [str(tmp_path / "bin" / "aimc"), "run", str(cv.EXPERIMENT), "--output",
                        str(tmp_path / "out.h5")]
    sets = [rest[i + 1] for i, a in enumerate(rest) if a == "--set"]
    assert sets == ["n_chips=3", "data.images=50", "seed=9", f"model={tmp_path / 'm.h5'}",
                    f"data.dir={tmp_path / 'cifar'}", "chip.drift.compensation=none"]
    assert rest[rest.index("--threads") + 1] == "2"
    one = cv.aimc_command(cv.parse_args(["--aimc", "/x/aimc"]), tmp_path / "o.h5")
    assert one[0] == "/x/aimc" and "--threads" not in one and "seed=" not in " ".join(one)


def test_input_paths_follow_aimc(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIMC_DATA", "/data")
    model, data = cv.input_paths(cv.parse_args([]))
    assert model == cv.DEFAULT_MODEL and data == Path("/data/cifar-10")
    model, data = cv.input_paths(cv.parse_args(["--model", "m.h5", "--data", "c"]))
    assert model == tmp_path / "m.h5" and data == tmp_path / "c"
    # --set comes last and wins; its paths are read by aimc in the repository root.
    model, data = cv.input_paths(cv.parse_args(["--model", "m.h5", "--set", "model=x.h5",
                                                "--set", "data.dir=/d"]))
    assert model == cv.REPO / "x.h5" and data == Path("/d")


def test_aimc_stats_in_percent():
    class Results:
        path, axes = "r.h5", ["t_inference"]
        points = pd.DataFrame({"t_inference_s": [3600.0, 86400.0], "accuracy_mean": [0.885, 0.8],
                               "accuracy_std": [0.01, 0.02], "n": [20, 0]})
    assert cv.aimc_stats(Results()) == {3600.0: Stat(88.5, 1.0, 20)}  # no samples: no point
    Results.points = pd.DataFrame({"t_inference_s": [3600.0, 3600.0], "accuracy_mean": [0.9, 0.8],
                                   "accuracy_std": [0.01, 0.02], "n": [2, 2]})
    with pytest.raises(cv.CrossvalError, match="one per time"):
        cv.aimc_stats(Results())
