"""Issue 15: one declaration per chip key. `aimc keys` prints it; the key table in docs/chip.md must
be its output, and `aimc map`, `aimc perf` and the chip must use the same layer list."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: aimc_test_env
from aimc_test_env import AIMC, MODELS, need  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
HERMES = ROOT / "configs" / "chips" / "hermes64.ini"


def aimc(*args):
    if not AIMC:
        pytest.skip("AIMC_BIN not set: run through ctest")
    proc = subprocess.run([AIMC, *map(str, args)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("doc, args", [("chip.md", ["keys"]),
                                       ("experiments.md", ["keys", "--experiment"])])
def test_docs_key_tables_are_the_schema(doc, args):
    table = aimc(*args)
    table = table[table.index("| key |"):]
    text = (ROOT / "docs" / doc).read_text()
    marker = "<!-- aimc " + " ".join(args)
    begin = text.index("\n", text.index(marker + ": begin")) + 1
    end = text.index(marker + ": end -->")
    assert text[begin:end] == table, f"docs/{doc} key table is stale: run scripts/gen_docs.sh"


def test_every_key_is_declared_whole():
    keys = [json.loads(line) for line in aimc("keys", "--json").splitlines()]
    names = [k["name"] for k in keys]
    assert len(names) == len(set(names))
    for k in keys:
        assert k["phases"], k["name"]
        assert k["doc"] and k["expected"], k["name"]
        assert set(k["phases"]) <= {"program", "calibrate", "read", "perf"}, k["name"]
    need(MODELS / "resnet20.h5")
    # Every key is accepted with --set at its own default (the canonical text reads back), and a
    # value outside its declared type is refused naming the key and what the schema expects.
    defaults = [a for k in keys for a in ("--set", f"{k['name']}={k['default']}")]
    aimc("map", "--model", MODELS / "resnet20.h5", "--chip", HERMES, "--json", *defaults)
    proc = subprocess.run([AIMC, "map", "--model", MODELS / "resnet20.h5", "--chip", HERMES,
                           "--set", "converters.adc_bits=many"], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "converters.adc_bits = 'many', expected an integer in [0, 24]" in proc.stderr


def test_map_and_perf_list_the_layers_the_chip_maps():
    need(MODELS / "resnet20.h5")
    for last in ("analog", "digital"):
        common = ["--model", MODELS / "resnet20.h5", "--chip", HERMES, "--json",
                  "--set", f"mapping.last_layer={last}"]
        mapped = [layer["name"] for layer in json.loads(aimc("map", *common))["layers"]]
        perf = [layer["name"] for layer in json.loads(aimc("perf", *common))["layers"]]
        assert mapped == perf
        # resnet20: 19 convolutions and the final linear layer, which the global digital unit
        # runs instead of a core with last_layer = digital.
        assert len(mapped) == (20 if last == "analog" else 19)
        assert ("linear" in mapped[-1] or "fc" in mapped[-1]) == (last == "analog")
