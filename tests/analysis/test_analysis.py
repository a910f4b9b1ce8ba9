"""analysis/ on a results file that `aimc run` makes here: the loader and its format check, the
summary statistics against numpy over the samples, summarize.py's tables, and the plots."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: aimc_test_env
from aimc_test_env import AIMC, DATA, MODELS, REPO, need  # noqa: E402

ANALYSIS = REPO / "analysis"
sys.path.insert(0, str(ANALYSIS))
from aimc_results import ResultsFormatError, fields_markdown, load, sample_fields  # noqa: E402


# 3 times x 2 compensation modes = 6 points, x 3 chips = 18 samples (3 work units).
EXPERIMENT = """\
model = {model}
chip = {repo}/configs/chips/hermes64.ini
n_chips = 3
seed = 5
output = {output}

[data]
dir = {data}
images = 32

[chip]
calibration.images = 32

[sweep]
t_inference = 60, 3600, 86400
chip.drift.compensation = none, global
"""
# Student's t quantile t(0.975) with 2 degrees of freedom (3 chips), in closed form for df = 2.
T975_DF2 = (2 * 0.975 - 1) / np.sqrt(2 * 0.975 * 0.025)  # 4.3026527297...


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A complete results file and one slice (incomplete) of the same study."""
    if not AIMC:
        pytest.skip("AIMC_BIN not set: run through ctest")
    model = MODELS / "resnet20.h5"
    need(model)
    need(DATA / "cifar-10" / "test_batch.bin")
    d = tmp_path_factory.mktemp("analysis")
    exp = d / "drift.ini"
    exp.write_text(EXPERIMENT.format(model=model, repo=REPO, data=DATA / "cifar-10",
                                     output=d / "drift.h5"))
    for extra in ([], ["--slice", "0/3", "--output", str(d / "slice.h5")]):
        proc = subprocess.run([AIMC, "run", str(exp), "--threads", "1", "--no-progress", *extra],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
    return d / "drift.h5", d / "slice.h5"


def run_script(name, *args):
    return subprocess.run([sys.executable, str(ANALYSIS / name), *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_loader_frames(files):
    path, _ = files
    r = load(path)
    assert r.complete and r.axes == ["t_inference", "chip.drift.compensation"]
    assert r.model_name == "resnet20" and 0.5 < r.ideal_accuracy <= 1.0
    s = r.samples
    assert len(s) == 18 and s["done"].all() and (s["total"] == 32).all()
    assert np.array_equal(s["accuracy"], s["correct"] / s["total"])
    assert sorted(s["chip"].unique()) == [0, 1, 2]
    assert s["chip.drift.compensation"].tolist()[:6] == ["none"] * 3 + ["global"] * 3
    assert np.array_equal(s["t_inference"], s["t_inference_s"])
    assert r.correct_per_class.shape == (18, 10)
    assert np.array_equal(r.correct_per_class.sum(axis=1), s["correct"])
    p = r.points
    assert len(p) == 6 and (p["n"] == 3).all()
    assert p["t_inference"].tolist() == [60, 60, 3600, 3600, 86400, 86400]
    assert r.numeric_axes() == ["t_inference"]


def test_loader_incomplete_slice(files):
    _, part = files
    r = load(part)
    assert not r.complete
    assert len(r.samples) == 6 and (r.samples["chip"] == 0).all()  # unit 0 = chip 0
    assert len(load(part, done_only=False).samples) == 18


def test_loader_reads_a_file_a_running_writer_holds(files, tmp_path, capfd):
    """A running `aimc run` holds HDF5's write lock on its output for hours; the loader must still
    read what is on disk, and say that it is a snapshot."""
    path, _ = files
    held = tmp_path / "held.h5"
    shutil.copy(path, held)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import h5py, sys, time\n"
         "f = h5py.File(sys.argv[1], 'a')\nprint('held', flush=True)\ntime.sleep(300)", str(held)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "HDF5_USE_FILE_LOCKING": "TRUE"})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OSError, match="lock"):  # the lock is real, so the fallback is tested
            h5py.File(held, "r")
        capfd.readouterr()
        r = load(held)
        assert "locked by a running writer" in capfd.readouterr().err
        pd.testing.assert_frame_equal(r.points, load(path).points)
        pd.testing.assert_frame_equal(r.samples, load(path).samples)
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("attr,value,message", [
    ("format_version", 99, "results format version 99"),
    ("format_version", 1, "results format version 1 (an older aimc)"),
    ("sample_fields", "[{]", "no readable sample_fields attribute"),
    ("format", "something-else", "not an aimc results file"),
])
def test_loader_refuses_other_formats(files, tmp_path, attr, value, message):
    path, _ = files
    bad = tmp_path / "bad.h5"
    shutil.copy(path, bad)
    with h5py.File(bad, "r+") as f:
        f.attrs[attr] = value
    with pytest.raises(ResultsFormatError, match=re.escape(message)):
        load(bad)
    proc = run_script("summarize.py", bad)
    assert proc.returncode == 2 and message in proc.stderr and proc.stdout == ""


def test_docs_table_of_sample_fields_matches_the_files_declaration(files):
    """docs/results-format.md's table of sample fields is the one aimc writes into every file."""
    path, _ = files
    with h5py.File(path, "r") as f:
        declared = fields_markdown(sample_fields(dict(f.attrs), path))
    docs = (REPO / "docs" / "results-format.md").read_text()
    begin = docs.index("<!-- sample-fields: begin")
    table = docs[docs.index("\n", begin) + 1:docs.index("<!-- sample-fields: end -->")]
    assert table == declared, ("docs/results-format.md is out of date; its table should be the "
                               f"output of python3 analysis/aimc_results.py FILE:\n{declared}")


def test_loader_follows_the_declared_fields(files, tmp_path):
    """The loader's columns are the file's declared fields, not a list of its own: a field the
    file declares appears, one it does not declare does not."""
    path, _ = files
    changed = tmp_path / "changed.h5"
    shutil.copy(path, changed)
    with h5py.File(changed, "r+") as f:
        fields = [d for d in json.loads(f.attrs["sample_fields"]) if d["name"] != "gops"]
        fields.append(dict(fields[-1], name="extra", dataset="samples/extra", extent="scalar"))
        f["samples/extra"] = np.arange(18, dtype=np.int64)
        f.attrs["sample_fields"] = json.dumps(fields)
    r = load(changed)
    assert "gops" not in r.samples and r.samples["extra"].tolist() == list(range(18))
    assert [x.name for x in r.fields][-1] == "extra" and "gops" in load(path).samples
    with h5py.File(changed, "r+") as f:
        del f["samples/extra"]
    with pytest.raises(ResultsFormatError, match="'extra' declared in 'samples/extra'"):
        load(changed)


def test_summary_matches_numpy_over_samples(files):
    path, _ = files
    r = load(path)
    for _, row in r.points.iterrows():
        acc = r.samples.loc[r.samples["point"] == row["point"], "accuracy"].to_numpy()
        assert len(acc) == row["n"] == 3
        mean, std = acc.mean(), acc.std(ddof=1)
        sem = std / np.sqrt(len(acc))
        assert np.isclose(row["accuracy_mean"], mean, rtol=0, atol=1e-15)
        assert np.isclose(row["accuracy_std"], std, rtol=1e-12, atol=1e-15)
        assert np.isclose(row["accuracy_sem"], sem, rtol=1e-12, atol=1e-15)
        assert np.isclose(row["accuracy_ci95_low"], mean - T975_DF2 * sem, rtol=1e-9, atol=1e-12)
        assert np.isclose(row["accuracy_ci95_high"], mean + T975_DF2 * sem, rtol=1e-9, atol=1e-12)
        assert row["accuracy_min"] == acc.min() and row["accuracy_max"] == acc.max()
        assert row["accuracy_median"] == np.median(acc)


def test_summarize_pivot(files):
    """--pivot t_inference: one column per read time, one row per compensation, the same cells
    as the long table."""
    path, _ = files
    proc = run_script("summarize.py", path, "--pivot", "t_inference")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    r = load(path)
    times = list(dict.fromkeys(r.points["t_inference"]))
    assert lines[0] == ("| model | chip.drift.compensation | "
                        + " | ".join(f"t_inference = {t:g}" for t in times) + " |")
    assert len(lines) == 2 + r.points["chip.drift.compensation"].nunique()
    first = r.samples.loc[r.samples["point"] == 0, "accuracy"].to_numpy() * 100
    half = T975_DF2 * first.std(ddof=1) / np.sqrt(3)
    assert lines[2].startswith(f"| resnet20 | none | {first.mean():.2f} ± {half:.2f} |")
    bad = run_script("summarize.py", path, "--pivot", "colour")
    assert bad.returncode == 2 and "not a sweep axis" in bad.stderr


def test_summarize_markdown(files):
    path, _ = files
    proc = run_script("summarize.py", path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("| model | t_inference | chip.drift.compensation | chips |")
    assert len(lines) == 2 + 6
    r = load(path)
    first = r.samples.loc[r.samples["point"] == 0, "accuracy"].to_numpy() * 100
    half = T975_DF2 * first.std(ddof=1) / np.sqrt(3)
    assert f"| resnet20 | 60 | none | 3 | {first.mean():.2f} ± {half:.2f} |" in lines[2]


def test_summarize_csv_several_files(files):
    path, part = files
    proc = run_script("summarize.py", "--csv", path, part)
    assert proc.returncode == 0, proc.stderr
    from io import StringIO
    t = pd.read_csv(StringIO(proc.stdout))
    assert len(t) == 12 and t["file"].nunique() == 2
    whole = t[t["file"] == str(path)]
    r = load(path)
    means = r.samples.groupby("point")["accuracy"].mean().to_numpy() * 100
    assert np.allclose(whole["mean_pct"], means, rtol=1e-5)
    assert (t[t["file"] == str(part)]["chips"] == 1).all()
    # The slice is incomplete, and the user is told how far it got; the whole file is not.
    assert f"note: {part}: incomplete, 6 of 18 samples done" in proc.stderr
    assert str(path) + ":" not in proc.stderr


def png_ok(path):
    data = Path(path).read_bytes()
    return len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_drift(files, tmp_path):
    path, _ = files
    proc = run_script("plot_drift.py", path, "-o", tmp_path / "drift.png")
    assert proc.returncode == 0, proc.stderr
    assert png_ok(tmp_path / "drift.png")
    assert (tmp_path / "drift.pdf").read_bytes()[:5] == b"%PDF-"
    assert proc.stdout.split() == [str(tmp_path / "drift.png"), str(tmp_path / "drift.pdf")]


def test_plot_sweep(files, tmp_path):
    path, _ = files
    # The only numeric axis (t_inference) is chosen when --x is left out.
    proc = run_script("plot_sweep.py", path, "--log-x", "-o", tmp_path / "sweep")
    assert proc.returncode == 0, proc.stderr
    assert png_ok(tmp_path / "sweep.png") and (tmp_path / "sweep.pdf").stat().st_size > 1000
    proc = run_script("plot_sweep.py", path, "--x", "chip.drift.compensation")
    assert proc.returncode == 2 and "not a numeric sweep axis" in proc.stderr


def test_plot_distribution(files, tmp_path):
    path, _ = files
    proc = run_script("plot_distribution.py", path, "-o", tmp_path / "spread")
    assert proc.returncode == 0, proc.stderr
    assert png_ok(tmp_path / "spread.png") and (tmp_path / "spread.pdf").stat().st_size > 1000


def test_loader_layers(files):
    path, _ = files
    r = load(path)
    with h5py.File(path, "r") as f:
        names = f["layers/name"].asstr()[()]
        energy = f["samples/layer_energy_nJ"][()]
        point = f["samples/point"][()]
    t = r.layers(point=2)
    assert t["layer"].tolist() == list(names) and t.attrs["samples"] == 3
    analog = ~np.isnan(energy[point == 2]).all(axis=0)
    assert analog.any()
    assert np.allclose(t["energy_nJ"][analog], energy[point == 2][:, analog].mean(axis=0))
    assert t["energy_nJ"][~analog].isna().all()
    assert {"energy_per_image_uJ_mean", "tops_per_w"} <= set(r.samples.columns)


def test_plot_energy(files, tmp_path):
    path, _ = files
    proc = run_script("plot_energy.py", path, "--point", "1", "-o", tmp_path / "energy")
    assert proc.returncode == 0, proc.stderr
    assert png_ok(tmp_path / "energy.png") and (tmp_path / "energy.pdf").stat().st_size > 1000
    proc = run_script("plot_energy.py", path, "--point", "6")
    assert proc.returncode == 2 and "--point 6" in proc.stderr
