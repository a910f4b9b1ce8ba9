#!/usr/bin/python3
"""Train a ResNet-9 on CIFAR-10 from scratch on CPU and export it to ONNX.

Network ("ResNet-9" of D. Page, "How to train your ResNet", Myrtle.ai 2018,
https://myrtle.ai/learn/how-to-train-your-resnet/ , the DAWNBench CIFAR-10 entry;
code: https://github.com/davidcpage/cifar10-fast), width c (default 32):

    normalise  x = (x - mean) / std                 (per channel, CIFAR-10 train stats)
    prep       conv3x3(3->c)   BN ReLU
    layer1     conv3x3(c->2c)  BN ReLU MaxPool2   + residual [conv(2c) BN ReLU] x2
    layer2     conv3x3(2c->4c) BN ReLU MaxPool2
    layer3     conv3x3(4c->8c) BN ReLU MaxPool2   + residual [conv(8c) BN ReLU] x2
    head       global max pool, flatten, Linear(8c->10, bias=False), times 0.125

All convs are 3x3, padding 1, bias=False. Weights (conv + linear kernels):
c=32: 1,643,872 (88 % of the 1,866,536 of Le Gallo et al., Nature Electronics 2023);
c=64 (Page's width): 6,573,120.  The 0.125 output scale is folded into the Linear
weight before the ONNX export, so the exported graph has no Mul.

Training recipe (Page's final 24-epoch / 94 % recipe, see the blog posts 1-8 and
cifar10-fast's `dawn.py`; label smoothing 0.2 is from post 8 "Bag of tricks"):
  * SGD, Nesterov momentum 0.9, batch 512.
  * Loss: cross-entropy with label smoothing 0.2, mean over the batch.
  * LR: piecewise linear (one-cycle style), 0 -> peak 0.4 at 5/24 of the run
    (epoch 5 of 24 in Page), then linearly down to 0 at the end; updated every step.
  * Weight decay 5e-4 (PyTorch `weight_decay`, applied to all parameters, as Page).
    Page uses summed loss with lr/512 and weight_decay 5e-4*512; with a mean loss
    that is exactly lr 0.4 and weight_decay 5e-4, which is what this script uses.
  * Augmentation: random 32x32 crop of the 4-pixel reflect-padded image, random
    horizontal flip, cutout 8x8 (a square fully inside the image set to the
    per-channel mean, i.e. 0 after normalisation; `--cutout 0` disables it).
  * Per-channel normalisation by the CIFAR-10 training-set mean/std (computed
    from the 50,000 training images), done inside the model so the ONNX input
    is pixel/255 in [0,1], shape [N,3,32,32], NCHW, RGB.
  * BatchNorm: PyTorch defaults (eps 1e-5, momentum 0.1), weight 1, bias 0.

Reproducibility: `--seed` seeds torch (weight init), numpy and Python; the data
order and augmentation of epoch e come from numpy's default_rng([seed, e]), so a
run is reproducible on the same machine with the same `--threads`, and `--resume`
continues exactly (model, optimiser, LR schedule position, RNG states, position
inside the epoch).  Checkpoints (`OUT/checkpoint.pt`, written atomically) are
saved after every epoch, every `--ckpt-minutes` minutes mid-epoch, and on
SIGTERM/SIGINT (after the running step).

Outputs in `--out` (default training/runs/resnet9): checkpoint.pt, resnet9.pt
(final state_dict), resnet9.onnx, resnet9.json (software test accuracy on the
10,000 test images, command, seed, epochs, width, torch version, wall time).

Examples:
    nice -n 10 /usr/bin/python3 training/train_cifar.py --bench-steps 20 --threads 2
    nice -n 10 /usr/bin/python3 training/train_cifar.py --epochs 16 --threads 2 --seed 1
    ... same command plus --resume, after an interruption
"""

import argparse
import copy
import datetime
import hashlib
import json
import os
import platform
import random
import shlex
import signal
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALLOWED_ONNX_OPS = {"Conv", "BatchNormalization", "Relu", "MaxPool", "GlobalMaxPool", "Add",
                    "Flatten", "Reshape", "Gemm", "MatMul", "Sub", "Div"}
# Arguments that must match between a checkpoint and a --resume run.
RESUME_KEYS = ["width", "epochs", "seed", "batch", "lr", "peak_frac", "momentum", "weight_decay",
               "label_smoothing", "cutout", "limit_train", "channels_last", "threads"]


# ----------------------------------------------------------------------------- data

def find_data_dir():
    cands = []
    if os.environ.get("AIMC_DATA"):
        cands.append(os.path.join(os.environ["AIMC_DATA"], "cifar-10"))
    cands.append(os.path.normpath(os.path.join(REPO, "..", "shared", "data", "cifar-10")))
    cands.append(os.path.join(REPO, "data", "cifar-10"))
    for d in cands:
        if os.path.isfile(os.path.join(d, "test_batch.bin")) and \
           os.path.isfile(os.path.join(d, "data_batch_1.bin")):
            return d
    sys.exit("train_cifar: CIFAR-10 binary not found; looked in:\n  " + "\n  ".join(cands) +
             "\n(run scripts/fetch_data.sh or set AIMC_DATA)")


def read_batches(paths):
    raw = np.concatenate([np.fromfile(p, dtype=np.uint8) for p in paths])
    if raw.size % 3073:
        sys.exit("train_cifar: bad CIFAR-10 file size")
    raw = raw.reshape(-1, 3073)
    labels = raw[:, 0].astype(np.int64)
    images = raw[:, 1:].reshape(-1, 3, 32, 32).copy()  # planar RGB -> NCHW uint8
    return images, labels


def load_cifar(d):
    xtr, ytr = read_batches([os.path.join(d, "data_batch_%d.bin" % i) for i in range(1, 6)])
    xte, yte = read_batches([os.path.join(d, "test_batch.bin")])
    return xtr, ytr, xte, yte


class EpochPlan:
    """Data order and augmentation of one epoch, a pure function of (seed, epoch)."""

    def __init__(self, seed, epoch, n, batch, cutout):
        rng = np.random.default_rng([seed, epoch])
        self.perm = rng.permutation(n)
        self.cx = rng.integers(0, 9, n)          # crop offsets in the 40x40 padded image
        self.cy = rng.integers(0, 9, n)
        self.flip = rng.random(n) < 0.5
        if cutout > 0:
            self.ox = rng.integers(0, 32 - cutout + 1, n)
            self.oy = rng.integers(0, 32 - cutout + 1, n)
        self.steps = (n + batch - 1) // batch    # last batch may be smaller
        self.batch = batch
        self.cutout = cutout

    def batch_indices(self, step):
        return np.arange(step * self.batch, min((step + 1) * self.batch, len(self.perm)))


def make_train_batch(padded, labels, plan, step, mean_u8):
    pos = plan.batch_indices(step)
    idx = plan.perm[pos]
    out = np.empty((len(idx), 3, 32, 32), dtype=np.uint8)
    for k, (i, p) in enumerate(zip(idx, pos)):
        img = padded[i, :, plan.cy[p]:plan.cy[p] + 32, plan.cx[p]:plan.cx[p] + 32]
        if plan.flip[p]:
            img = img[:, :, ::-1]
        out[k] = img
        if plan.cutout:
            s = plan.cutout
            out[k, :, plan.oy[p]:plan.oy[p] + s, plan.ox[p]:plan.ox[p] + s] = mean_u8[:, None, None]
    x = torch.from_numpy(out).float().div_(255.0)
    return x, torch.from_numpy(labels[idx])


# ---------------------------------------------------------------------------- model

def conv_bn(ci, co):
    return nn.Sequential(nn.Conv2d(ci, co, 3, padding=1, bias=False), nn.BatchNorm2d(co),
                         nn.ReLU(inplace=True))


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.res1 = conv_bn(c, c)
        self.res2 = conv_bn(c, c)

    def forward(self, x):
        return x + self.res2(self.res1(x))


class GlobalMaxPoolFn(torch.autograd.Function):
    """Global max pool that exports as ONNX GlobalMaxPool (AdaptiveMaxPool2d(1) exports as a
    MaxPool whose kernel is the static feature-map size)."""

    @staticmethod
    def forward(ctx, x):
        y, idx = F.adaptive_max_pool2d(x, 1, return_indices=True)
        ctx.save_for_backward(idx)
        ctx.shape = x.shape
        return y

    @staticmethod
    def backward(ctx, gy):
        (idx,) = ctx.saved_tensors
        n, c, h, w = ctx.shape
        g = torch.zeros(n, c, h * w, dtype=gy.dtype)
        g.scatter_(2, idx.reshape(n, c, 1), gy.reshape(n, c, 1))
        return g.reshape(n, c, h, w)

    @staticmethod
    def symbolic(g, x):
        return g.op("GlobalMaxPool", x)


class GlobalMaxPool(nn.Module):
    def forward(self, x):
        return GlobalMaxPoolFn.apply(x)


class ResNet9(nn.Module):
    def __init__(self, c=32, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), scale=0.125):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.prep = conv_bn(3, c)
        self.layer1 = nn.Sequential(conv_bn(c, 2 * c), nn.MaxPool2d(2), Residual(2 * c))
        self.layer2 = nn.Sequential(conv_bn(2 * c, 4 * c), nn.MaxPool2d(2))
        self.layer3 = nn.Sequential(conv_bn(4 * c, 8 * c), nn.MaxPool2d(2), Residual(8 * c))
        self.pool = GlobalMaxPool()
        self.fc = nn.Linear(8 * c, 10, bias=False)
        self.scale = scale  # None: folded into fc.weight (export copy)

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = self.layer3(self.layer2(self.layer1(self.prep(x))))
        x = torch.flatten(self.pool(x), 1)
        x = self.fc(x)
        return x if self.scale is None else x * self.scale


def weight_count(model):
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


def export_copy(model):
    m = copy.deepcopy(model).float().eval().to(memory_format=torch.contiguous_format)
    with torch.no_grad():
        m.fc.weight.mul_(m.scale)
    m.scale = None
    return m


# ------------------------------------------------------------------------ utilities

def lr_at(step, total_steps, peak_frac, peak_lr):
    """Piecewise linear 0 -> peak (at peak_frac of the run) -> 0, at the middle of the step."""
    t = (step + 0.5) / total_steps
    if t < peak_frac:
        return peak_lr * t / peak_frac
    return peak_lr * max(0.0, (1.0 - t) / (1.0 - peak_frac))


def fmt_time(s):
    s = int(max(0, s))
    return "%d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60)


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def evaluate(model, x_u8, y, channels_last, bs=1000):
    model.eval()
    correct, loss_sum = 0, 0.0
    with torch.no_grad():
        for i in range(0, len(x_u8), bs):
            x = torch.from_numpy(x_u8[i:i + bs]).float().div_(255.0)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            out = model(x)
            t = torch.from_numpy(y[i:i + bs])
            loss_sum += F.cross_entropy(out, t, reduction="sum").item()
            correct += (out.argmax(1) == t).sum().item()
    model.train()
    return correct, loss_sum / len(x_u8)


def onnx_ops(path):
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    return m, sorted({n.op_type for n in m.graph.node})


def numpy_onnx_forward(model_proto, x):
    """Tiny numpy interpreter for the allowed op set (checks the exported file, no onnxruntime)."""
    from onnx import numpy_helper
    env = {i.name: numpy_helper.to_array(i).astype(np.float32) for i in model_proto.graph.initializer}
    env[model_proto.graph.input[0].name] = x.astype(np.float32)
    for n in model_proto.graph.node:
        a = {at.name: at for at in n.attribute}
        ins = [env[i] if i else None for i in n.input]
        op = n.op_type
        if op == "Conv":
            w = ins[1]
            pads = list(a["pads"].ints) if "pads" in a else [0, 0, 0, 0]
            assert list(a["strides"].ints) in ([1, 1], []) if "strides" in a else True
            xp = np.pad(ins[0], ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
            N, C, H, W = xp.shape
            O, _, kh, kw = w.shape
            Ho, Wo = H - kh + 1, W - kw + 1
            cols = np.empty((N, C, kh, kw, Ho, Wo), np.float32)
            for i in range(kh):
                for j in range(kw):
                    cols[:, :, i, j] = xp[:, :, i:i + Ho, j:j + Wo]
            y = np.einsum("ok,nkp->nop", w.reshape(O, -1), cols.reshape(N, C * kh * kw, Ho * Wo))
            y = y.reshape(N, O, Ho, Wo)
            if len(ins) > 2 and ins[2] is not None:
                y = y + ins[2][None, :, None, None]
        elif op == "BatchNormalization":
            xx, g, b, mu, var = ins[:5]
            eps = a["epsilon"].f if "epsilon" in a else 1e-5
            sh = (1, -1, 1, 1)
            y = (xx - mu.reshape(sh)) / np.sqrt(var.reshape(sh) + eps) * g.reshape(sh) + b.reshape(sh)
        elif op == "Relu":
            y = np.maximum(ins[0], 0)
        elif op == "MaxPool":
            k = list(a["kernel_shape"].ints)
            st = list(a["strides"].ints) if "strides" in a else [1, 1]
            assert k == st and sum(a["pads"].ints if "pads" in a else []) == 0
            xx = ins[0]
            N, C, H, W = xx.shape
            y = xx.reshape(N, C, H // k[0], k[0], W // k[1], k[1]).max(axis=(3, 5))
        elif op == "GlobalMaxPool":
            y = ins[0].max(axis=(2, 3), keepdims=True)
        elif op == "Add":
            y = ins[0] + ins[1]
        elif op == "Sub":
            y = ins[0] - ins[1]
        elif op == "Div":
            y = ins[0] / ins[1]
        elif op == "Flatten":
            y = ins[0].reshape(ins[0].shape[0], -1)
        elif op == "Reshape":
            y = ins[0].reshape(ins[1].astype(np.int64))
        elif op == "MatMul":
            y = ins[0] @ ins[1]
        elif op == "Gemm":
            A, B = ins[0], ins[1]
            if "transA" in a and a["transA"].i:
                A = A.T
            if "transB" in a and a["transB"].i:
                B = B.T
            y = (a["alpha"].f if "alpha" in a else 1.0) * (A @ B)
            if len(ins) > 2 and ins[2] is not None:
                y = y + (a["beta"].f if "beta" in a else 1.0) * ins[2]
        else:
            raise RuntimeError("op %s not supported" % op)
        env[n.output[0]] = y.astype(np.float32)
    return env[model_proto.graph.output[0].name]


# ---------------------------------------------------------------------------- main

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--width", type=int, default=32, help="base width c (default 32; Page: 64)")
    p.add_argument("--epochs", type=int, default=16)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--lr", type=float, default=0.4, help="peak LR (mean loss)")
    p.add_argument("--peak-frac", type=float, default=5.0 / 24.0,
                   help="fraction of the run at which the LR peaks (default 5/24, Page)")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--label-smoothing", type=float, default=0.2)
    p.add_argument("--cutout", type=int, default=8, help="cutout square size (0: off)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--channels-last", action="store_true", help="use channels_last memory format")
    p.add_argument("--out", default=os.path.join("training", "runs", "resnet9"))
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--eval-every", type=int, default=1,
                   help="evaluate on the test set every N epochs (0: only at the end)")
    p.add_argument("--ckpt-minutes", type=float, default=10.0,
                   help="also checkpoint mid-epoch every N minutes (0: only per epoch)")
    p.add_argument("--ckpt-steps", type=int, default=0,
                   help="also checkpoint every N steps (testing)")
    p.add_argument("--limit-train", type=int, default=0, help="use only the first N train images")
    p.add_argument("--limit-test", type=int, default=0, help="use only the first N test images")
    p.add_argument("--bench-steps", type=int, default=0,
                   help="only measure training/eval throughput over N steps and exit")
    p.add_argument("--no-export", action="store_true", help="skip the ONNX export")
    return p.parse_args(argv)


class Stop:
    requested = False


def main():
    args = parse_args()
    t_start_wall = time.time()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    random.seed(args.seed)

    data_dir = find_data_dir()
    xtr, ytr, xte, yte = load_cifar(data_dir)
    # Normalisation constants from the full 50,000-image training set.
    mean = (xtr.reshape(len(xtr), 3, -1).mean(axis=(0, 2)) / 255.0).astype(np.float64)
    std = (xtr.reshape(len(xtr), 3, -1).astype(np.float32) / 255.0).std(axis=(0, 2)).astype(np.float64)
    mean_u8 = np.round(mean * 255.0).astype(np.uint8)
    if args.limit_train:
        xtr, ytr = xtr[:args.limit_train], ytr[:args.limit_train]
    if args.limit_test:
        xte, yte = xte[:args.limit_test], yte[:args.limit_test]
    padded = np.pad(xtr, ((0, 0), (0, 0), (4, 4), (4, 4)), mode="reflect")

    model = ResNet9(args.width, tuple(mean), tuple(std))
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    nweights = weight_count(model)
    nparams = sum(p.numel() for p in model.parameters())
    print("train_cifar: ResNet-9 width %d: %d weights (conv+linear kernels; %.1f %% of the paper's "
          "1,866,536), %d parameters incl. BN" % (args.width, nweights, 100.0 * nweights / 1866536,
                                                 nparams), flush=True)
    print("train_cifar: data %s: %d train, %d test; mean %s std %s; torch %s, %d threads" % (
        data_dir, len(xtr), len(xte), np.round(mean, 4).tolist(), np.round(std, 4).tolist(),
        torch.__version__, torch.get_num_threads()), flush=True)

    opt = torch.optim.SGD(model.parameters(), lr=0.0, momentum=args.momentum, nesterov=True,
                          weight_decay=args.weight_decay)
    crit = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    n = len(xtr)
    steps_per_epoch = (n + args.batch - 1) // args.batch
    total_steps = steps_per_epoch * args.epochs

    def train_step(x, y, lr):
        if args.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        for g in opt.param_groups:
            g["lr"] = lr
        out = model(x)
        loss = crit(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item(), (out.argmax(1) == y).sum().item()

    if args.bench_steps:
        plan = EpochPlan(args.seed, 0, n, args.batch, args.cutout)
        model.train()
        warm = 2
        for s in range(warm + args.bench_steps):
            if s == warm:
                t0 = time.perf_counter()
            x, y = make_train_batch(padded, ytr, plan, s % plan.steps, mean_u8)
            train_step(x, y, 0.01)
            sys.stderr.write("\rbench step %d/%d" % (s + 1, warm + args.bench_steps))
            sys.stderr.flush()
        dt = time.perf_counter() - t0
        ips = args.bench_steps * args.batch / dt
        t0 = time.perf_counter()
        ne = min(2000, len(xte))
        evaluate(model, xte[:ne], yte[:ne], args.channels_last)
        eps_ = ne / (time.perf_counter() - t0)
        print("\nbench: width %d channels_last %s threads %d: train %.1f img/s (%.1f s/step, "
              "%.1f min/epoch of 50000), eval %.1f img/s (%.1f min per 10000)" % (
                  args.width, args.channels_last, args.threads, ips, args.batch / ips,
                  50000 / ips / 60, eps_, 10000 / eps_ / 60), flush=True)
        return

    os.makedirs(args.out, exist_ok=True)
    ckpt_path = os.path.join(args.out, "checkpoint.pt")
    command = " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv)
    state = dict(epoch=0, step=0, global_step=0, train_seconds=0.0, eval_seconds=0.0,
                 history=[], commands=[], ep_loss=0.0, ep_correct=0, ep_seen=0)
    if args.resume and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        for k in RESUME_KEYS:
            if ck["args"][k] != getattr(args, k):
                sys.exit("train_cifar: --resume: %s differs from the checkpoint (%r vs %r)" % (
                    k, getattr(args, k), ck["args"][k]))
        model.load_state_dict(ck["model"])
        if args.channels_last:
            model = model.to(memory_format=torch.channels_last)
        opt.load_state_dict(ck["optimizer"])
        torch.set_rng_state(ck["torch_rng"])
        np.random.set_state(ck["numpy_rng"])
        random.setstate(ck["python_rng"])
        state = ck["state"]
        print("train_cifar: resumed from %s at epoch %d step %d (global step %d/%d)" % (
            ckpt_path, state["epoch"], state["step"], state["global_step"], total_steps), flush=True)
    elif args.resume:
        print("train_cifar: --resume: no checkpoint in %s, starting from scratch" % args.out,
              flush=True)
    state["commands"].append(command)

    def save_ckpt(tag):
        atomic_save(dict(args=vars(args), model=model.state_dict(), optimizer=opt.state_dict(),
                         torch_rng=torch.get_rng_state(), numpy_rng=np.random.get_state(),
                         python_rng=random.getstate(), state=state), ckpt_path)
        sys.stderr.write("\n")
        print("train_cifar: checkpoint (%s) epoch %d step %d -> %s" % (
            tag, state["epoch"], state["step"], ckpt_path), flush=True)

    def on_signal(signum, frame):
        Stop.requested = True
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    model.train()
    last_ckpt = time.time()
    step_times = []
    eval_time_est = None
    while state["epoch"] < args.epochs:
        ep = state["epoch"]
        plan = EpochPlan(args.seed, ep, n, args.batch, args.cutout)
        while state["step"] < steps_per_epoch:
            t0 = time.perf_counter()
            x, y = make_train_batch(padded, ytr, plan, state["step"], mean_u8)
            lr = lr_at(state["global_step"], total_steps, args.peak_frac, args.lr)
            loss, corr = train_step(x, y, lr)
            dt = time.perf_counter() - t0
            state["train_seconds"] += dt
            state["ep_loss"] += loss * len(y)
            state["ep_correct"] += corr
            state["ep_seen"] += len(y)
            state["step"] += 1
            state["global_step"] += 1
            step_times.append(dt)
            recent = step_times[-20:]
            sps = sum(recent) / len(recent)
            left = total_steps - state["global_step"]
            n_evals_left = (sum(1 for e in range(ep + 1, args.epochs + 1)
                                if args.eval_every and e % args.eval_every == 0 and e < args.epochs)
                            + 1)
            eta = left * sps + n_evals_left * (eval_time_est or 10000 / (3 * args.batch / sps))
            sys.stderr.write("\repoch %d/%d step %d/%d lr %.4f loss %.4f acc %.4f | %.1f img/s | "
                             "elapsed %s ETA %s " % (
                                 ep + 1, args.epochs, state["step"], steps_per_epoch, lr,
                                 state["ep_loss"] / state["ep_seen"],
                                 state["ep_correct"] / state["ep_seen"], args.batch / sps,
                                 fmt_time(state["train_seconds"] + state["eval_seconds"]),
                                 fmt_time(eta)))
            sys.stderr.flush()
            if not np.isfinite(loss):
                sys.exit("\ntrain_cifar: loss is not finite")
            mid = state["step"] < steps_per_epoch
            if Stop.requested:
                save_ckpt("signal")
                print("train_cifar: stopped by signal; continue with --resume", flush=True)
                return
            if mid and ((args.ckpt_minutes > 0 and time.time() - last_ckpt >= 60 * args.ckpt_minutes)
                        or (args.ckpt_steps and state["step"] % args.ckpt_steps == 0)):
                save_ckpt("mid-epoch")
                last_ckpt = time.time()
        # end of epoch
        rec = dict(epoch=ep + 1, train_loss=state["ep_loss"] / state["ep_seen"],
                   train_acc=state["ep_correct"] / state["ep_seen"],
                   time=state["train_seconds"] + state["eval_seconds"])
        state["epoch"] += 1
        state["step"] = 0
        state["ep_loss"], state["ep_correct"], state["ep_seen"] = 0.0, 0, 0
        is_last = state["epoch"] == args.epochs
        if args.eval_every and state["epoch"] % args.eval_every == 0 and not is_last:
            t0 = time.perf_counter()
            correct, tl = evaluate(model, xte, yte, args.channels_last)
            eval_time_est = time.perf_counter() - t0
            state["eval_seconds"] += eval_time_est
            rec.update(test_correct=correct, test_acc=correct / len(xte), test_loss=tl)
        state["history"].append(rec)
        sys.stderr.write("\n")
        print("train_cifar: epoch %d/%d train loss %.4f acc %.4f%s (elapsed %s)" % (
            rec["epoch"], args.epochs, rec["train_loss"], rec["train_acc"],
            (" | test acc %.4f (%d/%d) loss %.4f" % (rec["test_acc"], rec["test_correct"], len(xte),
                                                      rec["test_loss"])) if "test_acc" in rec else "",
            fmt_time(rec["time"])), flush=True)
        save_ckpt("epoch")
        last_ckpt = time.time()
        if Stop.requested:
            print("train_cifar: stopped by signal; continue with --resume", flush=True)
            return

    # final evaluation, export
    t0 = time.perf_counter()
    correct, tl = evaluate(model, xte, yte, args.channels_last)
    state["eval_seconds"] += time.perf_counter() - t0
    acc = correct / len(xte)
    print("train_cifar: final test accuracy %.4f (%d/%d), loss %.4f" % (acc, correct, len(xte), tl),
          flush=True)
    torch.save(model.state_dict(), os.path.join(args.out, "resnet9.pt"))
    result = dict(
        model="ResNet-9 (Page, Myrtle.ai 2018)", width=args.width, weights=nweights,
        parameters=nparams, test_correct=correct, test_total=len(xte), test_accuracy=acc,
        test_loss=tl, epochs=args.epochs, seed=args.seed, threads=args.threads,
        command=command, commands=state["commands"], torch_version=torch.__version__,
        numpy_version=np.__version__, python=platform.python_version(),
        machine=platform.machine(), host_cpu=platform.processor(),
        train_seconds=state["train_seconds"], eval_seconds=state["eval_seconds"],
        wall_seconds=state["train_seconds"] + state["eval_seconds"],
        last_process_wall_seconds=time.time() - t_start_wall,
        finished=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        recipe=dict(optimizer="SGD nesterov", momentum=args.momentum, lr_peak=args.lr,
                    lr_schedule="linear 0->peak at %.4f of the run ->0, per step" % args.peak_frac,
                    weight_decay=args.weight_decay, batch=args.batch, loss="mean cross-entropy",
                    label_smoothing=args.label_smoothing,
                    augmentation="random crop (4-px reflect pad), h-flip, cutout %d" % args.cutout),
        input=dict(shape="[N,3,32,32]", range="pixel/255, RGB, NCHW",
                   normalisation_in_model=True, mean=[float(v) for v in mean],
                   std=[float(v) for v in std]),
        output_scale_folded=0.125, limit_train=args.limit_train, history=state["history"])
    if not args.no_export:
        onnx_path = os.path.join(args.out, "resnet9.onnx")
        em = export_copy(model)
        dummy = torch.zeros(1, 3, 32, 32)
        warnings.filterwarnings("ignore", category=FutureWarning)
        torch.onnx.export(em, dummy, onnx_path, opset_version=13, input_names=["input"],
                          output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
        proto, ops = onnx_ops(onnx_path)
        bad = sorted(set(ops) - ALLOWED_ONNX_OPS)
        print("train_cifar: exported %s, ops: %s" % (onnx_path, ", ".join(ops)), flush=True)
        if bad:
            sys.exit("train_cifar: ONNX export uses ops outside the aimc set: %s" % bad)
        # Check the file against torch on 200 test images with a numpy interpreter.
        xs = xte[:200].astype(np.float32) / 255.0
        with torch.no_grad():
            ref = model.eval()(torch.from_numpy(xs)).numpy()
        got = numpy_onnx_forward(proto, xs)
        err = float(np.abs(got - ref).max() / max(1e-12, np.abs(ref).max()))
        agree = int((got.argmax(1) == ref.argmax(1)).sum())
        print("train_cifar: ONNX (numpy) vs torch on 200 test images: max rel diff %.2e, "
              "argmax agrees on %d/200" % (err, agree), flush=True)
        with open(onnx_path, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        result.update(onnx=os.path.basename(onnx_path), onnx_sha256=sha, onnx_ops=ops,
                      onnx_opset=13, onnx_vs_torch_max_rel_diff=err, onnx_vs_torch_argmax_agree=agree)
    with open(os.path.join(args.out, "resnet9.json"), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print("train_cifar: wrote %s (wall %s)" % (os.path.join(args.out, "resnet9.json"),
                                               fmt_time(result["wall_seconds"])), flush=True)


if __name__ == "__main__":
    main()
