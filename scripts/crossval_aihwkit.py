#!/usr/bin/python3
"""Cross-validation of aimc against IBM aihwkit: ResNet-32 on the first 2,000 CIFAR-10 test images.

    /usr/bin/python3 scripts/crossval_aihwkit.py                      # 20 chips, 2,000 images
    /usr/bin/python3 scripts/crossval_aihwkit.py --ranks 2 --threads 1
    /usr/bin/python3 scripts/crossval_aihwkit.py --chips 2 --images 200  # a quick look only

Runs `aimc run experiments/crossval_aihwkit.ini` and compares its top-1 accuracy at each inference
time with the "noise_only" run of aihwkit_hermes_resnet32.json (shared/data/references/): aihwkit
1.0.0 on the same model, images and chip settings, mean and standard deviation over 20 chips.
`--run default_io` does the same with experiments/crossval_aihwkit_io.ini against the reference's
run with aihwkit's default IO (5 chips). Per
time t it prints one markdown row: both means ± sd over chips (n), their difference Δ and

    z = Δ / sqrt(se_aimc² + se_aihwkit²),  se = sd / sqrt(n),

and PASS when |z| <= --max-z (default 3) at every time of the reference. The last line says PASS
or FAIL and the worst z. Fewer chips or images than the reference's still run, but the comparison
then only indicates (other images, wider errors).

The results file is resumed when it holds this experiment and was started by this aimc build (a
stopped run continues), and removed and recomputed when it holds another experiment (other chips,
images, seed, model or chip configuration: aimc refuses such a file) or was started before aimc
was last built (aimc itself would resume it: its configuration hash does not cover its code).
--fresh always starts over.

Where things are looked for (relative paths on this command line are taken from the current
directory; aimc itself runs in the repository root, where the experiment's paths are relative):
the reference in --reference, else $AIMC_DATA/references/, else <repo>/../shared/data/references/
(as scripts/fetch_data.sh looks for data), else <repo>/data/references/; CIFAR-10 in --data, else
aimc's default ($AIMC_DATA/cifar-10, else data/cifar-10); the model in --model, else
build/models/resnet32.h5; the binary in --aimc, else $AIMC_BIN, else build/aimc.

Exit status: 0 PASS, 1 FAIL, 2 error (aimc failed, bad input), 77 skipped because the reference,
the model or CIFAR-10 is absent. With AIMC_REQUIRE_DATA=1 (CI) an absent input is a failure (1).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import h5py

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "analysis"))
from aimc_results import FORMAT, ResultsFormatError, load  # noqa: E402

PROG = "crossval_aihwkit"
REFERENCE_NAME = "aihwkit_hermes_resnet32.json"
# The reference's runs, each with the experiment file that sets aimc up the same way.
EXPERIMENTS = {
    "noise_only": REPO / "experiments" / "crossval_aihwkit.ini",  # perfect IO
    "default_io": REPO / "experiments" / "crossval_aihwkit_io.ini",  # aihwkit's default IO
}
REFERENCE_RUN = "noise_only"
EXPERIMENT = EXPERIMENTS[REFERENCE_RUN]
DEFAULT_MODEL = REPO / "build" / "models" / "resnet32.h5"
DEFAULT_OUTPUT = REPO / "results" / "crossval_aihwkit.h5"
EXIT_PASS, EXIT_FAIL, EXIT_ERROR, EXIT_SKIP = 0, 1, 2, 77
# aimc run's one error line for a results file of another experiment (tests/run/test_run.py
# checks it): the cue to remove the file and start over.
OTHER_EXPERIMENT = "holds results of a different experiment"


class CrossvalError(Exception):
    """A problem with the inputs or with the aimc run, reported as one line (exit 2)."""


class MissingInput(Exception):
    """A data file this check needs is absent: a skip, or a failure under AIMC_REQUIRE_DATA=1."""


@dataclass(frozen=True)
class Stat:
    """Accuracy (%) at one inference time: mean and standard deviation (n - 1) over n chips."""

    mean: float
    sd: float
    n: int

    @property
    def se(self) -> float:
        """Standard error of the mean; NaN with fewer than two chips."""
        return self.sd / math.sqrt(self.n) if self.n > 1 else math.nan


@dataclass(frozen=True)
class Row:
    """One line of the comparison; ``aimc`` is None where aimc has no result at that time."""

    t: float
    aimc: Stat | None
    ref: Stat
    delta: float
    z: float
    ok: bool


def z_score(a: Stat, b: Stat) -> float:
    """(a.mean - b.mean) / sqrt(a.se² + b.se²): the difference of two independent means in units of
    its standard error. NaN when either spread is unknown (a single chip); with no spread at all
    (both sd 0), 0 for equal means and ±inf otherwise."""
    se = math.sqrt(a.se ** 2 + b.se ** 2)
    delta = a.mean - b.mean
    if math.isnan(se) or math.isnan(delta):
        return math.nan
    if se == 0:
        return 0.0 if delta == 0 else math.copysign(math.inf, delta)
    return delta / se


def compare(aimc: dict[float, Stat], ref: dict[float, Stat], max_z: float) -> list[Row]:
    """One row per reference time, in time order. A time passes when aimc has it and |z| <= max_z;
    an undefined z (one chip) or a missing time fails, so a broken run can never pass. Times that
    aimc ran and the reference lacks are not compared."""
    rows = []
    for t in sorted(ref):
        r = ref[t]
        a = aimc.get(t)
        if a is None:
            rows.append(Row(t, None, r, math.nan, math.nan, False))
            continue
        z = z_score(a, r)
        rows.append(Row(t, a, r, a.mean - r.mean, z, bool(abs(z) <= max_z)))
    return rows


def passed(rows: list[Row]) -> bool:
    """PASS: at least one point, and every point within the threshold."""
    return bool(rows) and all(r.ok for r in rows)


def worst(rows: list[Row]) -> Row | None:
    """The row that decides the verdict: a failing one first (undefined z before the largest
    |z|), else the largest |z|."""
    if not rows:
        return None
    return max(rows, key=lambda r: (not r.ok, math.isnan(r.z), 0 if math.isnan(r.z) else abs(r.z)))


def verdict(rows: list[Row], max_z: float) -> str:
    """The last line of the output."""
    w = worst(rows)
    if w is None:
        return "FAIL: nothing to compare (the reference has no points)"
    where = f"t = {_num(w.t)} s"
    if passed(rows):
        return f"PASS: |z| <= {_num(max_z)} at every point (worst z = {w.z:+.2f} at {where})"
    if w.aimc is None:
        return f"FAIL: aimc has no result at {where}"
    if math.isnan(w.z):
        return f"FAIL: z undefined at {where} (one chip: no spread; use --chips 2 or more)"
    return f"FAIL: |z| > {_num(max_z)} (worst z = {w.z:+.2f} at {where})"


def _num(x: float) -> str:
    """3600.0 -> '3600', 2.5 -> '2.5'."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _stat_cell(s: Stat | None) -> str:
    if s is None:
        return "-"
    sd = "-" if math.isnan(s.sd) else f"{s.sd:.2f}"
    return f"{s.mean:.2f} ± {sd} ({s.n})"


def markdown(rows: list[Row]) -> str:
    """The comparison as a GitHub-flavoured markdown table, accuracies in percent."""
    lines = ["| t (s) | aimc (%) mean ± sd (n) | aihwkit (%) mean ± sd (n) | Δ (pp) | z |",
             "|---|---|---|---|---|"]
    for r in rows:
        delta = "-" if math.isnan(r.delta) else f"{r.delta:+.2f}"
        z = "-" if math.isnan(r.z) else f"{r.z:+.2f}"
        lines.append(f"| {_num(r.t)} | {_stat_cell(r.aimc)} | {_stat_cell(r.ref)} | {delta} | "
                     f"{z}{'' if r.ok else ' ✗'} |")
    return "\n".join(lines) + "\n"


def _finite_or_none(v):
    """JSON has no NaN or infinity: null instead, in nested dicts and lists too."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite_or_none(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_finite_or_none(x) for x in v]
    return v


def _stat_json(s: Stat | None) -> dict | None:
    return None if s is None else {**asdict(s), "se": s.se}


def to_json(rows: list[Row], max_z: float, **extra) -> dict:
    """The comparison as a JSON-ready dict (``extra`` first); NaN and infinities become null."""
    w = worst(rows)
    points = [{"t_inference_s": r.t, "aimc": _stat_json(r.aimc), "aihwkit": _stat_json(r.ref),
               "delta": r.delta, "z": r.z, "ok": r.ok} for r in rows]
    return _finite_or_none({**extra, "max_z": max_z, "pass": passed(rows),
                            "worst_z": None if w is None else w.z, "points": points})


def reference_candidates(env=os.environ) -> list[Path]:
    """Where the reference is looked for when --reference is not given, in order: $AIMC_DATA, then
    <repo>/../shared/data (the order of scripts/fetch_data.sh), then <repo>/data."""
    out = []
    if env.get("AIMC_DATA"):
        out.append(Path(env["AIMC_DATA"]) / "references" / REFERENCE_NAME)
    out.append(REPO.parent / "shared" / "data" / "references" / REFERENCE_NAME)
    # Where scripts/fetch_data.sh would link it, were it listed in scripts/data.md5.
    out.append(REPO / "data" / "references" / REFERENCE_NAME)
    return out


def find_reference(given: str | None, env=os.environ) -> Path:
    """The reference file. A path given on the command line must exist (CrossvalError); otherwise
    the first candidate that exists, or MissingInput naming every place looked in."""
    if given:
        p = Path(given)
        if not p.is_file():
            raise CrossvalError(f"--reference {given}: no such file")
        return p
    candidates = reference_candidates(env)
    for p in candidates:
        if p.is_file():
            return p
    raise MissingInput(f"reference {REFERENCE_NAME} not found in "
                       f"{', '.join(str(p.parent) for p in candidates)} (set AIMC_DATA or "
                       f"--reference)")


def load_reference(path: Path, run: str = REFERENCE_RUN) -> tuple[dict[float, Stat], dict]:
    """The named run of a reference file: {t_inference_s: Stat}, and the file's description
    (images, software accuracy) for the notes."""
    try:
        doc = json.loads(Path(path).read_text())
        (entry,) = [r for r in doc["runs"] if r["name"] == run]
        n = int(entry["chips"])
        points = {float(p["t_inference_s"]): Stat(float(p["mean"]), float(p["sd"]), n)
                  for p in entry["points"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CrossvalError(f"{path}: not a reference file with a run named '{run}' ({e!r})")
    return points, doc


def aimc_stats(results) -> dict[float, Stat]:
    """{t_inference_s: Stat} in percent from a loaded results file (aimc_results.load), one sweep
    point per time: a --set that adds another sweep axis makes the comparison ambiguous."""
    pts = results.points
    if pts["t_inference_s"].duplicated().any():
        raise CrossvalError(f"{results.path}: several sweep points share an inference time (axes "
                            f"{', '.join(results.axes)}); the comparison needs one per time")
    return {float(p.t_inference_s): Stat(100 * float(p.accuracy_mean), 100 * float(p.accuracy_std),
                                         int(p.n))
            for p in pts.itertuples() if int(p.n) > 0}


def set_value(sets: list[str], key: str) -> str | None:
    """The value the last ``--set key=...`` gives ``key`` (aimc takes the last), or None."""
    value = None
    for s in sets:
        k, sep, v = s.partition("=")
        if sep and k.strip() == key:
            value = v.strip()
    return value


def absolute(path: str | None) -> str | None:
    """Paths from the command line are the user's, relative to the current directory; aimc runs
    in the repository root."""
    return None if path is None else str(Path(path).resolve())


def aimc_binary(args) -> str:
    """--aimc, else $AIMC_BIN, else build/aimc, as an absolute path."""
    return absolute(args.aimc or os.environ.get("AIMC_BIN") or str(REPO / "build" / "aimc"))


def aimc_command(args, output: Path) -> list[str]:
    """The `aimc run` command line, under mpiexec when --ranks > 1. The script's options come as
    --set overrides first; the user's --set come last, so they win (aimc takes the last)."""
    experiment = EXPERIMENTS[getattr(args, "run", REFERENCE_RUN)]
    cmd = [aimc_binary(args), "run", str(experiment), "--output", str(output),
           "--set", f"n_chips={args.chips}", "--set", f"data.images={args.images}"]
    if args.seed is not None:
        cmd += ["--set", f"seed={args.seed}"]
    if args.model:
        cmd += ["--set", f"model={absolute(args.model)}"]
    if args.data:
        cmd += ["--set", f"data.dir={absolute(args.data)}"]
    if args.threads is not None:
        cmd += ["--threads", str(args.threads)]
    if args.no_progress:
        cmd.append("--no-progress")
    for s in args.set:
        cmd += ["--set", s]
    if args.ranks > 1:
        mpiexec = shlex.split(os.environ.get("AIMC_MPIEXEC") or "mpiexec")
        cmd = [*mpiexec, "-n", str(args.ranks), "--bind-to", "none", *cmd]
    return cmd


def input_paths(args) -> tuple[Path, Path]:
    """The model and the CIFAR-10 directory that aimc will read: a --set wins over --model and
    --data (it comes last), and its paths, like the experiment's and $AIMC_DATA, are relative to
    the repository root, where aimc runs."""
    model = set_value(args.set, "model")
    if model:
        model = REPO / model
    else:
        model = Path(absolute(args.model)) if args.model else DEFAULT_MODEL
    data = set_value(args.set, "data.dir")
    if data:
        data = REPO / data
    elif args.data:
        data = Path(absolute(args.data))
    elif os.environ.get("AIMC_DATA"):
        data = REPO / os.environ["AIMC_DATA"] / "cifar-10"
    else:
        data = REPO / "data" / "cifar-10"
    return model, data


def check_inputs(args) -> None:
    """MissingInput when the model or CIFAR-10 is absent, so that a checkout without data skips
    like the other data tests instead of failing inside aimc."""
    model, data = input_paths(args)
    for path, what in ((model, "model (scripts/setup.sh imports it)"),
                       (data / "test_batch.bin", "CIFAR-10 (scripts/fetch_data.sh)")):
        if not path.is_file():
            raise MissingInput(f"{what} not found: {path}")


def built_after(output: Path, aimc: str) -> bool:
    """Whether ``output`` is an aimc results file started before the binary ``aimc`` was built.
    aimc's configuration hash covers the experiment but not aimc's code, so a rebuilt aimc would
    resume such a file and report the old build's samples. False for anything else (no file, not
    a results file, a file that a running aimc holds locked): aimc then decides."""
    try:
        built = os.stat(aimc).st_mtime
        with h5py.File(output, "r") as f:
            fmt = f.attrs.get("format")
            started = float(f.attrs.get("start_time_unix", math.inf))
    except OSError:
        return False
    fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
    return fmt == FORMAT and started < built


def run_aimc(cmd: list[str], aimc: str, output: Path, fresh: bool) -> None:
    """Runs aimc in the repository root; its output (progress, its own summary table) goes to
    stderr, so stdout holds only the comparison. A results file of this experiment made by this
    aimc build is resumed; one of another experiment or an older build is removed and the run
    started over."""
    if output.exists() and not fresh and built_after(output, aimc):
        print(f"{PROG}: {output} was started before aimc was last built; starting over",
              file=sys.stderr)
        fresh = True
    if fresh and output.exists():
        output.unlink()
    for attempt in (1, 2):
        existed = output.exists()
        print(f"{PROG}: {shlex.join(cmd)}", file=sys.stderr, flush=True)
        rc, tail = _run_forwarding(cmd)
        if rc == 0:
            return
        if attempt == 1 and existed and OTHER_EXPERIMENT in tail:
            print(f"{PROG}: {output} holds another experiment's results (other settings); "
                  f"removing it and starting over", file=sys.stderr, flush=True)
            output.unlink()
            continue
        raise CrossvalError(f"aimc run failed with exit status {rc} (its messages are above)")


def _run_forwarding(cmd: list[str]) -> tuple[int, str]:
    """Runs cmd with stdout and stderr forwarded to our stderr as they come; returns the exit
    status and the last 64 KiB of that output (to read aimc's error line)."""
    try:
        p = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as e:
        raise CrossvalError(f"cannot start {cmd[0]}: {e.strerror} (build aimc, or give --aimc or "
                            f"AIMC_BIN)")
    tail = b""
    try:
        with p.stdout:
            while chunk := p.stdout.read1(65536):
                sys.stderr.buffer.write(chunk)
                sys.stderr.buffer.flush()
                tail = (tail + chunk)[-65536:]
    except KeyboardInterrupt:
        # Ctrl-C reached aimc too: it keeps its finished samples and stops at the next batch.
        p.wait()
        raise CrossvalError("interrupted; rerun the same command to resume") from None
    return p.wait(), tail.decode("utf-8", "replace")


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Exit status: 0 PASS, 1 FAIL, 2 error, 77 skipped (data "
                                        "absent; 1 with AIMC_REQUIRE_DATA=1).")
    ap.add_argument("--run", choices=sorted(EXPERIMENTS), default=REFERENCE_RUN,
                    help="the reference run to compare with: noise_only (perfect IO, "
                         "experiments/crossval_aihwkit.ini; the default) or default_io "
                         "(aihwkit's default IO, experiments/crossval_aihwkit_io.ini)")
    ap.add_argument("--chips", type=int,
                    help="chip instances per inference time (default: the reference run's, 20 "
                         "for noise_only and 5 for default_io)")
    ap.add_argument("--images", type=int, default=2000,
                    help="first N CIFAR-10 test images (default 2000, as the reference)")
    ap.add_argument("--seed", type=int, help="master seed (default: the experiment file's)")
    ap.add_argument("--threads", type=int,
                    help="TBB threads per rank (default: aimc's, all cores)")
    ap.add_argument("--ranks", type=int, default=1,
                    help="MPI ranks; > 1 runs under $AIMC_MPIEXEC or mpiexec (default 1)")
    ap.add_argument("--output",
                    help="results file (default results/crossval_aihwkit.h5 in the repository, "
                         "crossval_aihwkit_io.h5 for --run default_io)")
    ap.add_argument("--fresh", action="store_true",
                    help="remove the results file first instead of resuming it")
    ap.add_argument("--reference", help=f"reference JSON (default: {REFERENCE_NAME} in "
                                        f"$AIMC_DATA/references, else ../shared/data/references)")
    ap.add_argument("--aimc", help="aimc binary (default $AIMC_BIN, else build/aimc)")
    ap.add_argument("--model", help="aimc model file (default build/models/resnet32.h5)")
    ap.add_argument("--data", help="CIFAR-10 binary directory (default: aimc's, "
                                   "$AIMC_DATA/cifar-10, else data/cifar-10)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="passed to aimc run as --set KEY=VALUE, after this script's own (so it "
                         "wins); paths in it are relative to the repository root; repeatable")
    ap.add_argument("--max-z", type=float, default=3.0,
                    help="largest |z| that passes, at every point (default 3)")
    ap.add_argument("--json", help="also write the comparison to this JSON file")
    ap.add_argument("--no-progress", action="store_true",
                    help="no progress lines from aimc (logs)")
    args = ap.parse_args(argv)
    if args.output is None:
        args.output = str(DEFAULT_OUTPUT.with_name(EXPERIMENTS[args.run].stem + ".h5"))
    for name in ("chips", "ranks"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            ap.error(f"--{name} {getattr(args, name)}, expected >= 1")
    if args.images < 1 and args.images != -1:
        ap.error(f"--images {args.images}, expected >= 1 (or -1: the whole test split)")
    if not args.max_z > 0:
        ap.error(f"--max-z {args.max_z}, expected > 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    require = os.environ.get("AIMC_REQUIRE_DATA") == "1"
    try:
        reference = find_reference(args.reference)
        ref, doc = load_reference(reference, args.run)
        if args.chips is None:
            args.chips = ref[min(ref)].n
        check_inputs(args)
        output = Path(absolute(args.output))
        run_aimc(aimc_command(args, output), aimc_binary(args), output, args.fresh)
        results = load(output)
        if not results.complete:
            raise CrossvalError(f"{output}: incomplete after the run")
        rows = compare(aimc_stats(results), ref, args.max_z)
    except MissingInput as e:
        if require:
            print(f"{PROG}: error: {e} (AIMC_REQUIRE_DATA=1: a missing input is a failure)",
                  file=sys.stderr)
            return EXIT_FAIL
        print(f"{PROG}: SKIPPED: {e}", file=sys.stderr)
        return EXIT_SKIP
    except (CrossvalError, ResultsFormatError, OSError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return EXIT_ERROR

    images = doc.get("images", {})
    if args.images != images.get("first") or args.chips < ref[min(ref)].n:
        # Other images have another mean; fewer chips, wider errors: the table still prints.
        print(f"note: {args.chips} chips and {args.images} images; the reference used "
              f"{ref[min(ref)].n} chips and the first {images.get('first')} test images, so this "
              f"comparison only indicates", file=sys.stderr)
    print(f"aimc {results.attrs.get('aimc_version', '?')} ({results.attrs.get('git_sha', '?')}) "
          f"against aihwkit, run '{args.run}' of {reference}; software accuracy on these "
          f"images: aimc {100 * results.ideal_accuracy:.2f} %, reference "
          f"{doc.get('software_accuracy', math.nan):.2f} %\n")
    sys.stdout.write(markdown(rows))
    if args.json:
        out = to_json(rows, args.max_z, reference=str(reference), run=args.run,
                      results=str(output), chips=args.chips, images=args.images,
                      software_accuracy_aimc=100 * results.ideal_accuracy,
                      software_accuracy_reference=doc.get("software_accuracy"))
        Path(args.json).write_text(json.dumps(out, indent=2, allow_nan=False) + "\n")
    print(f"\n{verdict(rows, args.max_z)}")
    return EXIT_PASS if passed(rows) else EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
