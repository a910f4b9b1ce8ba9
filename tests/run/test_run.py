"""aimc run end to end: the same experiment gives the same bits on 1, 2 and 3 MPI ranks and 1 or
2 threads; a run killed at any moment (SIGKILL) or stopped (SIGTERM) resumes to the same bits;
merge of job-array slices equals a single run and refuses what does not belong together; the
summary in the file matches its samples; bad experiment files fail before any work with one line.
"""

import os
import random
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from common import AIMC, DATA, MODELS, MPIEXEC, REPO, assert_same, need

# Two programming groups (prog_noise_scale) x two times x two compensation modes = 8 points,
# x 2 chips = 16 samples in 4 work units.
EXPERIMENT = """\
model = {model}
chip = {repo}/configs/chips/hermes64.ini
n_chips = 2
seed = 7
output = {output}

[data]
dir = {data}
images = 48
subset = random

[chip]
calibration.images = 32

[sweep]
chip.device.prog_noise_scale = 1, 2
t_inference = 60, 86400
chip.drift.compensation = none, global
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    if not AIMC:
        pytest.skip("AIMC_BIN not set: run through ctest")
    model = MODELS / "resnet20.h5"
    need(model)
    need(DATA / "cifar-10" / "test_batch.bin")
    d = tmp_path_factory.mktemp("run")
    exp = d / "tiny.ini"
    exp.write_text(EXPERIMENT.format(model=model, repo=REPO, data=DATA / "cifar-10",
                                     output=d / "default.h5"))
    ref = d / "reference.h5"
    proc = aimc_run(exp, ref, "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    return exp, ref, d


# The 2-rank interruption tests: 240 images per sample, so that a stopped worker is likely
# mid-evaluation (nothing depends on it).
LONG = ("--set", "data.images=240")


@pytest.fixture(scope="module")
def long_reference(setup):
    exp, _, d = setup
    ref = d / "reference_long.h5"
    proc = aimc_run(exp, ref, "--threads", "1", *LONG, ranks=2)
    assert proc.returncode == 0, proc.stderr
    return ref


def wait_for_stderr(p, marker, limit=300):
    """Reads p's stderr up to the first line that contains `marker` and returns what it read.
    The timer only guards against a hang: it kills p if the line never comes."""
    timer = threading.Timer(limit, p.kill)
    timer.start()
    seen = []
    try:
        for line in p.stderr:
            seen.append(line)
            if marker in line:
                return "".join(seen)
    finally:
        timer.cancel()
    raise AssertionError(f"no '{marker}' on stderr:\n" + "".join(seen))


# What --test-wait-after prints once rank 0 has stopped working and waits for a signal.
WAITING = "test hook: waiting for a signal"


def aimc_run(exp, out, *extra, ranks=None, timeout=600):
    cmd = [AIMC, "run", str(exp), "--output", str(out), "--no-progress", *extra]
    if ranks:
        cmd = [MPIEXEC, "-n", str(ranks), "--oversubscribe", "--bind-to", "none"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def attrs(path):
    with h5py.File(path, "r") as f:
        return dict(f.attrs)


def test_reference_is_complete_and_sane(setup):
    _, ref, _ = setup
    a = attrs(ref)
    assert a["complete"] == 1 and a["n_samples"] == 16 and a["format"] == "aimc-results"
    with h5py.File(ref, "r") as f:
        assert f["samples/done"][()].all()
        assert (f["samples/total"][()] == 48).all()
        acc = f["samples/accuracy"][()]
        # 8 points of distinct read noise: samples differ, and none is chance or perfect.
        assert len(np.unique(acc)) > 4 and acc.min() > 0.1 and acc.max() < 1.0
        assert 0.8 < a["ideal_accuracy"] <= 1.0
        # The performance model's columns: energy depends on each image's inputs, throughput
        # only on the mapping; per-layer energies add up to the energy at the mean activity.
        e = f["samples/energy_per_image_uJ_mean"][()]
        assert np.isfinite(e).all() and (e > 0).all()
        assert (f["samples/energy_per_image_uJ_std"][()] > 0).all()
        assert len(np.unique(f["samples/gops"][()])) == 1 and f["samples/gops"][0] > 0
        layers = f["layers/name"].asstr()[()]
        act = f["samples/layer_activity"][()]
        assert act.shape == (16, len(layers)) and ((act > 0) & (act <= 1)).all()
        assert (f["samples/layer_cores"][()] >= 1).all()
        assert np.allclose(f["samples/layer_energy_nJ"][()].sum(axis=1) / 1e3, e, rtol=1e-3)


@pytest.mark.parametrize("ranks,threads", [(None, 2), (2, 1), (3, 1)])
def test_bit_identical_across_ranks_and_threads(setup, ranks, threads):
    exp, ref, d = setup
    out = d / f"ranks{ranks}_threads{threads}.h5"
    proc = aimc_run(exp, out, "--threads", str(threads), ranks=ranks)
    assert proc.returncode == 0, proc.stderr
    assert attrs(out)["n_ranks"] == (ranks or 1)
    assert_same(ref, out)


def test_kill_after_k_samples_then_resume(setup):
    exp, ref, d = setup
    out = d / "killed.h5"
    proc = aimc_run(exp, out, "--threads", "1", "--test-die-after", "5")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with h5py.File(out, "r") as f:  # readable after the crash, with exactly the 5 samples
        assert f.attrs["complete"] == 0
        done = f["samples/done"][()].astype(bool)
        assert done.sum() == 5
        # /points is kept up to date sample by sample, so a killed (or still running) study's
        # summary describes exactly its finished samples.
        point, acc = f["samples/point"][()], f["samples/accuracy"][()]
        energy = f["samples/energy_per_image_uJ_mean"][()]
        pts = f["points"]
        assert pts["n"][()].sum() == 5
        for p in range(len(pts["index"])):
            v = acc[done & (point == p)]
            assert pts["n"][p] == len(v)
            if len(v):
                assert pts["accuracy_mean"][p] == v.mean()
                assert np.isclose(pts["energy_per_image_uJ_mean"][p],
                                  energy[done & (point == p)].mean(), rtol=1e-12)
            else:
                assert np.isnan(pts["accuracy_mean"][p])
    proc = aimc_run(exp, out, "--threads", "2", "--resume")
    assert proc.returncode == 0, proc.stderr
    assert "resuming: 5 already done" in proc.stderr
    assert "(11 this run)" in proc.stderr  # only the missing samples were computed
    assert attrs(out)["resume_count"] == 1
    assert_same(ref, out)


def opened_by(pid, path):
    """Whether process `pid` has `path` open (from /proc/PID/fd)."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(fd) == os.path.realpath(path):
                return True
        except OSError:
            pass
    return False


def test_sigkill_at_10_random_points_then_resume(setup):
    """Durability: SIGKILL at 10 seeded random points of the run (start-up, while it holds the
    results file open, or right after its k-th sample), each followed by a rerun that is killed
    again; the final resume must give exactly the uninterrupted datasets, and the file must be
    readable after every kill. Each point is an event of the run, never a delay, and every run is
    also given --test-die-after, so that no run can finish before its kill."""
    exp, ref, d = setup
    out = d / "sigkill.h5"
    rng = random.Random(20261129)
    # At most `cap` samples per run, and at least one sample left for every later run: the study
    # (16 samples) never completes before the final resume.
    caps = []
    for i in range(10):
        caps.append(min(rng.randint(1, 3), 15 - sum(caps) - (9 - i)))
    done = 0
    for cap in caps:
        where = rng.choices(["start", "open", "sample"], weights=[1, 2, 3])[0]
        p = subprocess.Popen([AIMC, "run", str(exp), "--output", str(out), "--no-progress",
                              "--threads", "1", "--test-die-after", str(cap)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if where == "open":
            deadline = time.time() + 120  # a hang guard
            while p.poll() is None and not opened_by(p.pid, out) and time.time() < deadline:
                time.sleep(0.01)
        if where != "sample":
            p.send_signal(signal.SIGKILL)
        assert p.wait(timeout=300) == -signal.SIGKILL
        before = done
        if out.exists():
            with h5py.File(out, "r") as f:
                done = int(f["samples/done"][()].sum())
                assert f.attrs["complete"] == 0
                # Every sample marked done is whole.
                ok = f["samples/done"][()] == 1
                assert (f["samples/total"][()][ok] == 48).all()
        # Nothing finished is ever lost, and a run that reaches its k-th sample stops right there.
        assert before <= done <= before + cap
        if where == "sample":
            assert done == before + cap
    resumed = out.exists()
    proc = aimc_run(exp, out, "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    assert not resumed or f"resuming: {done} already done" in proc.stderr
    assert_same(ref, out)


def test_worker_rank_killed_fails_cleanly_then_resume(setup, long_reference):
    """Fault injection: kill -9 of one MPI rank mid-run. The job must end (no hang), non-zero,
    with the file readable; a rerun resumes with nothing lost."""
    exp, _, d = setup
    out = d / "rankkill.h5"
    # Rank 0 waits after its 3rd sample (of 16), so the run is surely unfinished when rank 1 dies.
    p = subprocess.Popen([MPIEXEC, "-n", "2", "--oversubscribe", "--bind-to", "none", AIMC, "run",
                          str(exp), "--output", str(out), "--no-progress", "--threads", "1",
                          "--test-wait-after", "3", *LONG], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    seen = wait_for_stderr(p, WAITING)
    rank0, rank1 = rank_pids(p.pid, 0), rank_pids(p.pid, 1)
    assert rank0 and rank1, "ranks not found"
    for pid in rank1:
        os.kill(pid, signal.SIGKILL)
    _, err = p.communicate(timeout=120)
    err = seen + err
    assert p.returncode != 0
    assert "signal 9" in err or "Killed" in err, err
    # mpiexec may return before rank 0 is gone; the file is ours once it is.
    deadline = time.time() + 90
    while time.time() < deadline and any(Path(f"/proc/{pid}").exists() for pid in rank0):
        time.sleep(0.2)
    with h5py.File(out, "r") as f:
        assert f.attrs["complete"] == 0
        before = int(f["samples/done"][()].sum())
    assert before >= 3
    proc = aimc_run(exp, out, "--threads", "1", *LONG, ranks=2)
    assert proc.returncode == 0, proc.stderr
    assert f"resuming: {before} already done" in proc.stderr
    assert_same(long_reference, out)


@pytest.mark.parametrize("name", ["TERM", "INT"])
def test_signal_stops_cleanly_then_resume(setup, name):
    """SIGTERM or SIGINT, raised by the run itself right after its 5th of 16 samples, takes the
    path of a signal from outside: the sample in flight is dropped, the 5 are kept."""
    exp, ref, d = setup
    out = d / f"sig{name}.h5"
    sig = getattr(signal, "SIG" + name)
    proc = aimc_run(exp, out, "--threads", "1", "--test-signal-after", f"5:{name}")
    assert proc.returncode == 128 + sig, proc.stderr
    assert f"stopped by signal {int(sig)} with 5 of 16 samples done" in proc.stderr
    assert "rerun the same command to resume" in proc.stderr
    a = attrs(out)
    assert a["complete"] == 0
    proc = aimc_run(exp, out, "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    assert "resuming: 5 already done" in proc.stderr
    assert_same(ref, out)


def parent_pid(pid):
    """The parent of `pid` from /proc/PID/stat (field 4, after the parenthesised name), or 0."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat[stat.rindex(")") + 2:].split()[1])


def descends_from(pid, ancestor):
    while pid > 1:
        if pid == ancestor:
            return True
        pid = parent_pid(pid)
    return False


def rank_pids(launcher_pid, rank):
    """PIDs of the processes under the launcher that run MPI rank `rank`. Only descendants of
    this test's own mpiexec: any other MPI job on the machine (a study running beside the
    tests) is never touched."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            env = (proc / "environ").read_bytes().split(b"\0")
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        if (f"OMPI_COMM_WORLD_RANK={rank}".encode() in env and "aimc" in stat
                and descends_from(int(proc.name), launcher_pid)):
            out.append(int(proc.name))
    return out


def test_sigterm_to_rank0_stops_both_ranks_then_resume(setup, long_reference):
    """Rank 0 stops first and tells the worker, busy with its unit or waiting for the next, to
    stop. The signal comes from outside, once rank 0 waits after its 2nd sample (of 16)."""
    exp, _, d = setup
    out = d / "sigterm2.h5"
    p = subprocess.Popen([MPIEXEC, "-n", "2", "--oversubscribe", "--bind-to", "none", AIMC, "run",
                          str(exp), "--output", str(out), "--no-progress", "--threads", "1",
                          "--test-wait-after", "2", *LONG], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    seen = wait_for_stderr(p, WAITING)
    rank0 = rank_pids(p.pid, 0)
    assert rank0, "rank 0 not found"
    for pid in rank0:
        os.kill(pid, signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    err = seen + err
    assert p.returncode == 128 + signal.SIGTERM, err
    assert "stopped by signal 15" in err, err
    assert "MPI_ERR" not in err and "MPI_ABORT" not in err, err
    assert attrs(out)["complete"] == 0
    proc = aimc_run(exp, out, "--threads", "1", *LONG, ranks=2)
    assert proc.returncode == 0, proc.stderr
    assert_same(long_reference, out)


def test_merge_of_slices_equals_single_run(setup):
    exp, ref, d = setup
    parts = []
    for i in range(2):
        part = d / f"slice{i}.h5"
        proc = aimc_run(exp, part, "--threads", "1", "--slice", f"{i}/2")
        assert proc.returncode == 0, proc.stderr
        assert attrs(part)["complete"] == 0
        parts.append(part)
    merged = d / "merged.h5"
    proc = subprocess.run([AIMC, "merge", str(merged), *map(str, parts)], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert attrs(merged)["complete"] == 1
    assert_same(ref, merged)

    # The output must be new.
    proc = subprocess.run([AIMC, "merge", str(merged), *map(str, parts)], capture_output=True,
                          text=True)
    assert proc.returncode == 2 and "already exists" in proc.stderr
    # A sample in two inputs.
    proc = subprocess.run([AIMC, "merge", str(d / "dup.h5"), str(parts[0]), str(ref)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "also appear in an earlier input" in proc.stderr
    assert not (d / "dup.h5").exists()
    # Gaps are reported, and the output is marked incomplete.
    proc = subprocess.run([AIMC, "merge", str(d / "gaps.h5"), str(parts[0])],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "8 of 16 samples missing" in proc.stderr
    assert attrs(d / "gaps.h5")["complete"] == 0
    # Another experiment (different seed).
    other = d / "other.h5"
    proc = aimc_run(exp, other, "--threads", "1", "--slice", "1/2", "--set", "seed=8",
                    "--set", "data.images=16")
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([AIMC, "merge", str(d / "mixed.h5"), str(parts[0]), str(other)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "different experiment" in proc.stderr


def test_summary_matches_samples(setup):
    _, ref, _ = setup
    with h5py.File(ref, "r") as f:
        point = f["samples/point"][()]
        acc = f["samples/accuracy"][()]
        pts = f["points"]
        for p in range(len(pts["index"])):
            v = np.sort(acc[point == p])
            assert pts["n"][p] == len(v) == 2
            assert np.isclose(pts["accuracy_mean"][p], v.mean(), rtol=0, atol=1e-15)
            assert np.isclose(pts["accuracy_std"][p], v.std(ddof=1), rtol=1e-12, atol=1e-15)
            assert np.isclose(pts["accuracy_sem"][p], v.std(ddof=1) / np.sqrt(2), atol=1e-15)
            assert pts["accuracy_min"][p] == v[0] and pts["accuracy_max"][p] == v[-1]
            assert np.isclose(pts["accuracy_median"][p], np.median(v))
            # Student's t quantile t(0.975, 1 degree of freedom) = 12.7062047...
            half = (pts["accuracy_ci95_high"][p] - pts["accuracy_ci95_low"][p]) / 2
            assert np.isclose(half, 12.706204736174698 * pts["accuracy_sem"][p], rtol=1e-9)
        # The axis columns agree with the points they index.
        comp = pts["chip.drift.compensation"].asstr()[()]
        assert list(comp[:4]) == ["none", "global", "none", "global"]
        assert list(pts["t_inference"][()][:4]) == [60, 60, 86400, 86400]
        assert list(pts["program_group"][()]) == [0, 0, 0, 0, 1, 1, 1, 1]


def test_results_load_in_pandas(setup):
    pd = pytest.importorskip("pandas")
    _, ref, _ = setup
    with h5py.File(ref, "r") as f:
        s = pd.DataFrame({k: f["samples"][k][()] for k in f["samples"]
                          if f["samples"][k].ndim == 1})
    assert len(s) == 16 and s["done"].all()


BAD = [
    # (lines put before the file, --set overrides, fragments of the one error line)
    ("bogus = 1\n", [], ["tiny.ini", "unknown key 'bogus'"]),
    ("", ["n_chips=0"], ["--set", "n_chips = '0'", "an integer in [1, 1000000]"]),
    ("", ["n_chips=two"], ["--set", "n_chips = 'two'"]),
    ("", ["seed=-3"], ["seed = '-3'"]),
    ("", ["data.images=0"], ["data.images = '0'"]),
    ("", ["data.subset=middle"], ["data.subset = 'middle'", "one of: first, random"]),
    ("", ["t_inference=nan"], ["t_inference = 'nan'", "seconds >= 0"]),
    ("", ["sweep.t_inference=1,,2"], ["sweep.t_inference", "none empty"]),
    ("", ["sweep.t_inference=-5"], ["sweep.t_inference = '-5'", "seconds >= 0"]),
    ("", ["sweep.colour=red"], ["unknown sweep axis 'colour'"]),
    ("", ["chip.converters.adc_bitz=8"], ["unknown chip key 'converters.adc_bitz'"]),
    ("", ["sweep.chip.drift.compensation=none,sometimes"],
     ["sweep point", "drift.compensation = 'sometimes'", "none, global, per_column"]),
    ("", ["chip.drift.compensation=none"], ["is also a sweep axis"]),
    ("", ["model=/nonexistent/model.h5"], ["/nonexistent/model.h5"]),
    ("", ["sweep.chip.converters.dac_bits=" + ",".join(["8"] * 4000),
          "sweep.chip.converters.adc_bits=" + ",".join(["8"] * 4000)],
     ["more than 10,000,000 points"]),
    ("[sweep\n", [], ["tiny.ini"]),
    ("", ["data.images=60000"], ["data.images = '60000'"]),
]


@pytest.mark.parametrize("extra,sets,fragments", BAD)
def test_bad_experiment_fails_before_work(setup, tmp_path, extra, sets, fragments):
    exp, _, _ = setup
    bad = tmp_path / "tiny.ini"
    bad.write_text(extra + exp.read_text())
    out = tmp_path / "never.h5"
    args = [x for s in sets for x in ("--set", s)]
    proc = aimc_run(bad, out, *args)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and re.match(r"aimc run: error: ", lines[0]), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert not out.exists()


def test_refuses_other_experiment_and_missing_resume(setup, tmp_path):
    exp, ref, _ = setup
    before = ref.read_bytes()
    proc = aimc_run(exp, ref, "--set", "n_chips=3")
    assert proc.returncode == 2 and "different experiment" in proc.stderr
    assert ref.read_bytes() == before  # untouched
    proc = aimc_run(exp, tmp_path / "absent.h5", "--resume")
    assert proc.returncode == 2 and "nothing to resume" in proc.stderr
    proc = aimc_run(exp, tmp_path / "x.h5", "--slice", "2/2")
    assert proc.returncode == 2 and "--slice '2/2'" in proc.stderr


def test_refuses_a_file_of_another_format_version(setup, tmp_path):
    """A results file of format version 1 (before stream keys derived from content, issue 15) is
    refused by resume and by merge, with one error line that names the version."""
    exp, ref, _ = setup
    old = tmp_path / "old.h5"
    old.write_bytes(ref.read_bytes())
    with h5py.File(old, "r+") as f:
        f.attrs["format_version"] = np.int64(1)
    before = old.read_bytes()
    for proc, command in ((aimc_run(exp, old, "--resume"), "run"),
                          (subprocess.run([AIMC, "merge", str(tmp_path / "m.h5"), str(old)],
                                          capture_output=True, text=True), "merge")):
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2, proc.stderr
        assert len(lines) == 1 and lines[0].startswith(f"aimc {command}: error: {old}"), lines
        assert "results format version 1 (an older aimc), this aimc reads version 2" in lines[0]
    assert old.read_bytes() == before and not (tmp_path / "m.h5").exists()
