#!/usr/bin/python3
"""PyTorch reference throughput for the CIFAR-10 ResNet benchmark.

Builds the ResNet-CIFAR ("option A" shortcuts, see data/README) from an npz
state_dict, runs the first N CIFAR-10 test images through it on the CPU and
reports accuracy and the best images/s over several passes.
"""

import argparse
import contextlib
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

RECORD_BYTES = 1 + 3 * 32 * 32
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
BN_EPS = 1e-5


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes, eps=BN_EPS)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes, eps=BN_EPS)
        self.downsample = stride != 1 or in_planes != planes
        self.pad = planes // 4

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x
        if self.downsample:
            # Option A: parameter-free subsample plus zero channel padding.
            shortcut = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(out + shortcut)


class ResNetCifar(nn.Module):
    def __init__(self, blocks_per_stage, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16, eps=BN_EPS)
        in_planes = 16
        for index, (planes, stride) in enumerate([(16, 1), (32, 2), (64, 2)], start=1):
            blocks = []
            for b in range(blocks_per_stage):
                blocks.append(BasicBlock(in_planes, planes, stride if b == 0 else 1))
                in_planes = planes
            setattr(self, f"layer{index}", nn.Sequential(*blocks))
        self.linear = nn.Linear(64, num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


def load_model(path):
    with np.load(path) as npz:
        state = {name: torch.from_numpy(np.ascontiguousarray(npz[name])) for name in npz.files}
    block_ids = {int(m.group(1)) for name in state if (m := re.match(r"layer1\.(\d+)\.", name))}
    if not block_ids or block_ids != set(range(len(block_ids))):
        raise ValueError(f"{path}: cannot find blocks layer1.0 ... layer1.<n-1>")
    n = len(block_ids)
    model = ResNetCifar(n, num_classes=state["linear.weight"].shape[0])
    missing, unexpected = model.load_state_dict(state, strict=False)
    # Exported state_dicts may omit BN's step counter; inference never reads it.
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(f"{path}: missing tensors {missing}, unexpected tensors {unexpected}")
    model.eval()
    return model, f"resnet{6 * n + 2}"


def load_images(cifar_dir, count):
    path = Path(cifar_dir) / "test_batch.bin"
    raw = np.fromfile(path, dtype=np.uint8)
    available = raw.size // RECORD_BYTES
    if raw.size % RECORD_BYTES or count > available:
        raise ValueError(f"{path}: holds {available} images, {count} requested")
    records = raw[: count * RECORD_BYTES].reshape(count, RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    x = records[:, 1:].reshape(count, 3, 32, 32).astype(np.float32) / 255.0
    x = (x - MEAN[None, :, None, None]) / STD[None, :, None, None]
    return torch.from_numpy(np.ascontiguousarray(x)), labels


def macs_per_image(model):
    """Multiply-accumulates of conv and linear layers, from their output shapes."""
    total = 0

    def count(module, _inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k_h, k_w = module.kernel_size
            per_output = module.in_channels // module.groups * k_h * k_w
            total += output[0].numel() * per_output
        else:
            total += module.in_features * module.out_features

    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    hooks = [layer.register_forward_hook(count) for layer in layers]
    with torch.no_grad():
        model(torch.zeros(1, 3, 32, 32))
    for hook in hooks:
        hook.remove()
    return total


def inference_context():
    stack = contextlib.ExitStack()
    stack.enter_context(torch.no_grad())
    if hasattr(torch, "inference_mode"):
        stack.enter_context(torch.inference_mode())
    return stack


def run_pass(model, images, batch):
    return torch.cat([model(images[i : i + batch]) for i in range(0, images.shape[0], batch)])


def check_logits(logits, golden_path):
    golden = np.load(golden_path)
    if golden.ndim != 2 or golden.shape[0] < logits.shape[0] or golden.shape[1] != logits.shape[1]:
        return f"{golden_path}: shape {golden.shape} does not cover logits of shape {logits.shape}"
    golden = golden[: logits.shape[0]].astype(np.float64)
    # Relative to the largest golden logit: per-element relative error is
    # meaningless for logits near zero.
    max_abs = float(np.max(np.abs(logits - golden)))
    rel = max_abs / float(np.max(np.abs(golden)))
    if rel > 1e-4:
        flips = int(np.sum(logits.argmax(1) != golden.argmax(1)))
        return (
            f"logits differ from {golden_path}: max abs diff {max_abs:.3g}, "
            f"relative {rel:.3g} > 1e-4, {flips} argmax disagreements"
        )
    return None


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="resnetNN.npz state_dict")
    parser.add_argument("--data", required=True, help="directory holding test_batch.bin")
    parser.add_argument(
        "--images", type=int, default=10000, help="first N test images (default 10000)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed passes; the best counts (default 3)"
    )
    parser.add_argument(
        "--check-logits", metavar="PATH.npy", help="golden logits; exit 1 if they differ"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    for name in ("images", "threads", "batch", "repeat"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")

    torch.set_num_threads(args.threads)
    try:
        model, model_name = load_model(args.model)
        images, labels = load_images(args.data, args.images)
    except (OSError, ValueError, KeyError) as err:
        print(f"pytorch_resnet: error: {err}", file=sys.stderr)
        return 1

    with inference_context():
        # The warm-up pass also yields the logits for accuracy and the check.
        logits = run_pass(model, images, args.batch).numpy().astype(np.float64)
        if args.check_logits:
            try:
                problem = check_logits(logits, args.check_logits)
            except (OSError, ValueError) as err:
                problem = str(err)
            if problem:
                print(f"pytorch_resnet: error: {problem}", file=sys.stderr)
                return 1
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            run_pass(model, images, args.batch)
            best = min(best, time.perf_counter() - start)

    correct = int(np.sum(logits.argmax(1) == labels))
    images_per_s = args.images / best
    result = {
        "framework": "pytorch",
        "torch_version": torch.__version__,
        "model": model_name,
        "threads": args.threads,
        "images": args.images,
        "batch": args.batch,
        "correct": correct,
        "accuracy": correct / args.images,
        "seconds": best,
        "images_per_s": images_per_s,
        "gflops": 2 * macs_per_image(model) * images_per_s / 1e9,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"pytorch {result['torch_version']} {model_name}: {correct}/{args.images} correct "
            f"({100 * result['accuracy']:.2f} %), {images_per_s:.1f} images/s, "
            f"{result['gflops']:.2f} GFLOP/s, {args.threads} thread(s), batch {args.batch}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
