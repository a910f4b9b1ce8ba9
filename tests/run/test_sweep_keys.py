"""Issue 15: a sample depends only on its own configuration, seed and chip index. For every chip
key that `aimc keys` declares (so a new key is covered without touching this file), a two-value
sweep with n_chips = 1 must give the same /samples, bit for bit,
- on 1 rank, and on 2 ranks with the values in the reverse order, and
- as a run of each value alone (one on 1 rank, the other on 2).
The same holds for the read-time axis t_inference.
It failed before for programming.weight_scaling (a calibration reused across scalings) and for
any point whose read noise followed its position in the sweep.
"""

import json
import subprocess

import h5py
import numpy as np
import pytest

from common import AIMC, DATA, MODELS, MPIEXEC, REPO, need

EXPERIMENT = """\
model = {model}
chip = {repo}/configs/chips/hermes64.ini
n_chips = 1
seed = 5
output = {output}
t_inference = 3600

[data]
dir = {data}
images = 16

[chip]
{chip}

[sweep]
{axis} = {values}
"""


def chip_keys():
    if not AIMC:
        return []
    out = subprocess.run([AIMC, "keys", "--json"], capture_output=True, text=True, check=True,
                         timeout=60).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def number_text(x):
    return repr(float(x)) if x != int(x) else str(int(x))


def other_value(key):
    """A valid value of `key` other than its default, from what the schema declares."""
    default, kind = key["default"], key["type"]
    if " | " in kind:  # an enum, or true | false
        return next(v for v in kind.split(" | ") if v != default)
    if key["name"] == "calibration.images":
        return "9"
    if kind == "integer":
        lo, hi = (int(v) for v in key["range"].strip("[]").split(","))
        return str(int(default) + 1 if int(default) + 1 <= hi else int(default) - 1)
    d = float(default)
    if d == 0:
        return "0.05"
    # Half the default is inside every declared range here (all are bounded below by 0 or
    # above 0), and inside g_max_uS's tighter bound of the characterised maximum.
    return number_text(d / 2)


KEYS = chip_keys()
# Keys whose other value is only valid beside another key (ChipParams::validate): that key, set
# for both values.
COMPANIONS = {"converters.adc_bound": ["programming.weight_scaling = per_tile"],
              # Only a recalibrating mode reads it.
              "drift.recalibration_images": ["drift.compensation = adabs"]}


@pytest.mark.parametrize("key", KEYS, ids=[k["name"] for k in KEYS])
def test_every_chip_key_sweeps_reproducibly(key, tmp_path):
    name = key["name"]
    a = "8" if name == "calibration.images" else key["default"]
    b = other_value(key)
    assert a != b
    chip = [] if name == "calibration.images" else ["calibration.images = 8"]
    chip += COMPANIONS.get(name, [])
    check_axis("chip." + name, a, b, "\n".join(chip), tmp_path)


def test_read_times_do_not_depend_on_each_other(tmp_path):
    """The issue's case: t = 1 day on its own and next to t = 1 hour is the same sample."""
    check_axis("t_inference", "3600", "86400", "calibration.images = 8", tmp_path)


def test_recalibrations_sweep_reproducibly(tmp_path):
    """Issue 18: adabs and affine recalibrate each chip at each read from training images, layer
    by layer; the samples are the same bits on 1 and 2 ranks, in either order, and alone."""
    check_axis("chip.drift.compensation", "adabs", "affine",
               "calibration.images = 8\ndrift.recalibration_images = 24", tmp_path)


def check_axis(axis, a, b, chip, tmp_path):
    need(MODELS / "resnet20.h5")
    need(DATA / "cifar-10" / "test_batch.bin")

    def run(values, ranks, tag):
        out = tmp_path / f"{tag}.h5"
        exp = tmp_path / f"{tag}.ini"
        exp.write_text(EXPERIMENT.format(
            model=MODELS / "resnet20.h5", repo=REPO, data=DATA / "cifar-10", output=out,
            axis=axis, values=", ".join(values), chip=chip))
        cmd = [AIMC, "run", str(exp), "--threads", "1", "--no-progress"]
        if ranks > 1:
            cmd = [MPIEXEC, "-n", str(ranks), "--oversubscribe", "--bind-to", "none", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{axis} = {values}: {proc.stderr}"
        return by_value(out, axis)

    forward = run([a, b], 1, "forward")
    reverse = run([b, a], 2, "reverse")
    alone_a = run([a], 1, "alone_a")
    alone_b = run([b], 2, "alone_b")
    for value, alone in ((a, alone_a), (b, alone_b)):
        for other, what in ((reverse, "2 ranks, reversed order"), (alone, "the value alone")):
            expected, got = forward[norm(value)], other[norm(value)]
            assert sorted(expected) == sorted(got)
            for field in expected:
                assert np.array_equal(expected[field], got[field], equal_nan=True), (
                    f"{axis} = {value}: /samples/{field} differs from {what}")


def by_value(path, axis):
    """{sweep value: {field: the sample's row}} of a results file, without the fields that only
    say where the sample sits in its file (its point index) or whether it is done."""
    out = {}
    with h5py.File(path, "r") as f:
        s = f["samples"]
        for i, raw in enumerate(s[axis][()]):
            out[norm(raw)] = {field: s[field][i] for field in s
                              if field not in ("point", "done", axis)}
    return out


def norm(value):
    """A sweep value as the results file stores it: a number where it is one, else its text."""
    text = value.decode() if isinstance(value, bytes) else str(value)
    try:
        return float(text)
    except ValueError:
        return text
