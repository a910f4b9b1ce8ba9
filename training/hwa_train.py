#!/usr/bin/python3
"""Hardware-aware (HWA) fine-tuning of a CIFAR-10 ResNet for aimc's chip, exported as an aimc model.

Fine-tunes a pretrained network with the chip's non-idealities in the forward pass, so that the
weights it learns tolerate them: a ResNet-CIFAR (an .npz state_dict of ../shared/data/models, the
"option A" ResNet-20/32/44 that `aimc import` reads; exported as .npz with the same tensors) or a
ResNet-9 of train_cifar.py (its final .pt state_dict; exported as ONNX as train_cifar.py does). Every conv and linear layer is an
analog layer, as aimc maps it (docs/chip.md), and in training it computes:

    x_n = q_dac(x / r_in)                 8-bit DAC over the layer's input range r_in
    W_n = W / s + sigma * N(0, 1)         s = max |W| of each output column (its g_max), fresh
                                          Gaussian weight noise for every mini-batch
    z   = q_adc(x_n . W_n)                8-bit ADC over the layer's output range B
    y   = z * r_in * s + bias             digital, as the local digital unit rescales it

and after every optimiser step each output column's weights are clipped to +-kappa standard
deviations of that column. The quantisers use the straight-through estimator (the gradient of
round() taken as 1). r_in and B follow aimc's calibration (the 99.99th percentile of |x| and of
|z|; hardware/converters.hpp, converters.dac_percentile and adc_percentile), as an exponential
moving average over training batches. BatchNorm stays digital and is trained as usual.

The recipe and its sources:
  * Noise injection into the weights during training, the learned network then tolerating the
    programming and read noise of PCM: Joshi et al., "Accurate deep neural network inference
    using computational phase-change memory", Nature Communications 11:2473 (2020), whose noise
    is relative to each layer's max |W| and who also clip the weights (there at 2.5 sigma).
  * Rasch et al., "Hardware-aware training for large-scale and diverse deep learning inference
    workloads using in-memory computing-based accelerators", Nature Communications 14:5282
    (2023): additive Gaussian weight noise in the normalised weight space, 8-bit input and
    output quantisation in the forward pass, and weight clipping, on a pretrained network.
  * aimc's chip maps each column's max |W| onto g_max (programming.weight_scaling = per_column),
    so the noise here is in units of each column's max |W|, and clipping is per column.
  * aihwkit's HWA tutorial (notebooks/tutorial/hw_aware_training.ipynb): ADD_NORMAL weight
    noise with std_dev 0.06 of the normalised weights, clipping at 2 standard deviations
    (LAYER_GAUSSIAN), inp_res and out_res 1/(2^8 - 2) (8-bit IO), SGD with momentum 0.9 and
    weight decay 5e-4, a cosine learning rate. Defaults here: sigma 0.06, 8-bit DAC and ADC,
    kappa 2.5 (per column over as few as 27 weights, and a fine-tune of tens rather than the
    tutorial's 200 epochs: a 2-sigma clip of short columns costs more than the fine-tune wins
    back), SGD momentum 0.9, weight decay 5e-4, cosine learning rate from 0.02.

Augmentation is train_cifar.py's (random crop of the 4-pixel reflect-padded image, horizontal
flip, cutout 8x8), the input normalisation the pretrained models' (ImageNet mean and std;
benchmarks/pytorch_resnet.py).

Reproducibility: --seed seeds torch (the noise draws), numpy and Python; the data order and
augmentation of epoch e come from numpy's default_rng([seed, e]), so a run is reproducible on the
same machine with the same --threads, and --resume continues exactly (model, optimiser, range
statistics, RNG state, position inside the epoch). Checkpoints (OUT/checkpoint.pt, written
atomically) are saved after every epoch, every --ckpt-minutes minutes, and on SIGTERM/SIGINT.

Outputs in --out: checkpoint.pt; NAME.npz (the fine-tuned state_dict with the same tensors as the
input .npz) or NAME.onnx, which `aimc import` reads; NAME.h5, that import in aimc's model format
(with --aimc, by default build/aimc when it exists); NAME.json (software accuracy on the test images, the
command, the recipe, the loss of every step).

Examples:
    nice -n 10 /usr/bin/python3 training/hwa_train.py --model ../shared/data/models/resnet20.npz \\
        --name resnet20_hwa --epochs 10 --threads 2 --seed 1
    ... the same command plus --resume, after an interruption
"""

import argparse
import json
import math
import os
import random
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "benchmarks"))

import pytorch_resnet  # noqa: E402  (the ResNet-CIFAR and its .npz loader)
import train_cifar  # noqa: E402  (the ResNet-9, its ONNX export, the data pipeline)
from train_cifar import (EpochPlan, Stop, atomic_save, find_data_dir,  # noqa: E402
                         fmt_time, load_cifar, make_train_batch)

MEAN = torch.from_numpy(pytorch_resnet.MEAN).view(1, 3, 1, 1)
STD = torch.from_numpy(pytorch_resnet.STD).view(1, 3, 1, 1)


class Network:
    """A pretrained network and how it is fed and exported:
    - .npz: a ResNet-CIFAR state_dict (ImageNet-normalised input; exported as .npz with the same
      tensors, for `aimc import`);
    - .pt: a train_cifar.py ResNet-9 state_dict (normalisation inside the model, input pixel/255;
      exported as ONNX as train_cifar.py exports it)."""

    def __init__(self, path):
        self.path = path
        if path.endswith(".npz"):
            self.model, self.arch = pytorch_resnet.load_model(path)
            with np.load(path) as npz:
                self.keys = list(npz.files)
            self.suffix = ".npz"
        elif path.endswith(".pt"):
            state = torch.load(path)
            width = int(state["prep.0.weight"].shape[0])
            self.model = train_cifar.ResNet9(width)
            self.model.load_state_dict(state)
            self.arch = "resnet9 width %d" % width
            self.suffix = ".onnx"
        else:
            raise ValueError("expected a ResNet-CIFAR .npz or a train_cifar.py ResNet-9 .pt")

    def prepare(self, x):
        """The model's input from pixel/255."""
        return (x - MEAN) / STD if self.suffix == ".npz" else x

    def export(self, model, path):
        """Writes the fine-tuned network (HWA layers unwrapped) to `path` atomically."""
        unwrap(model)
        tmp = path + ".tmp" + self.suffix
        if self.suffix == ".npz":
            state = model.state_dict()
            missing = [k for k in self.keys if k not in state]
            if missing:
                raise SystemExit("hwa_train: internal: the export lacks %s" % missing)
            np.savez(tmp, **{k: state[k].detach().cpu().numpy().astype(np.float32)
                             for k in self.keys})
        else:
            em = train_cifar.export_copy(model)
            torch.onnx.export(em, torch.zeros(1, 3, 32, 32), tmp, opset_version=13,
                              input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
            _, ops = train_cifar.onnx_ops(tmp)
            bad = sorted(set(ops) - train_cifar.ALLOWED_ONNX_OPS)
            if bad:
                raise SystemExit("hwa_train: ONNX export uses ops outside the aimc set: %s" % bad)
        os.replace(tmp, path)
# Arguments that must not change across --resume.
RESUME_KEYS = ["model", "name", "epochs", "batch", "lr", "momentum", "weight_decay", "sigma",
               "kappa", "dac_bits", "adc_bits", "percentile", "range_momentum", "cutout", "seed",
               "limit_train", "steps"]


def levels(bits):
    """Levels on each side of zero of a signed b-bit converter (hardware/converters.hpp)."""
    return float((1 << (bits - 1)) - 1)


def quantize_ste(v, bound, bits):
    """aimc's symmetric quantiser over [-bound, bound], with the straight-through gradient."""
    if bits == 0:
        return v
    n = levels(bits)
    q = torch.round(torch.clamp(v / bound * n, -n, n)) * (bound / n)
    return v + (q - v).detach()


def abs_quantile(v, q, max_samples=65536):
    """The q-quantile of |v|, from an evenly strided subsample of at most max_samples values (a
    full sort of a layer's activations costs more than its convolution; the moving average over
    batches smooths the subsample's noise)."""
    flat = v.detach().abs().reshape(-1)
    step = max(1, flat.numel() // max_samples)
    return torch.quantile(flat[::step].float(), q)


class HwaLayer(nn.Module):
    """A conv or linear layer computed as aimc's chip computes it (module docstring)."""

    def __init__(self, inner, cfg):
        super().__init__()
        self.inner = inner
        self.cfg = cfg
        self.register_buffer("in_range", torch.zeros(()))
        self.register_buffer("out_range", torch.zeros(()))
        self.hwa = True

    def track(self, name, value):
        buf = getattr(self, name)
        m = self.cfg.range_momentum
        buf.copy_(value if buf.item() == 0 else (1 - m) * buf + m * value)

    def forward(self, x):
        inner = self.inner
        if not (self.hwa and self.training):
            return inner(x)
        q = self.cfg.percentile / 100.0
        w = inner.weight
        conv = isinstance(inner, nn.Conv2d)
        shape = (-1, 1, 1, 1) if conv else (-1, 1)
        scale = w.detach().reshape(w.shape[0], -1).abs().amax(1).clamp_min(1e-12).view(shape)
        with torch.no_grad():
            self.track("in_range", abs_quantile(x, q).clamp_min(1e-12))
        r = self.in_range
        xn = quantize_ste(x / r, 1.0, self.cfg.dac_bits)
        wn = w / scale + self.cfg.sigma * torch.randn_like(w)
        if conv:
            z = F.conv2d(xn, wn, None, inner.stride, inner.padding, inner.dilation, inner.groups)
        else:
            z = F.linear(xn, wn)
        with torch.no_grad():
            self.track("out_range", abs_quantile(z, q).clamp_min(1e-12))
        z = quantize_ste(z, self.out_range, self.cfg.adc_bits)
        out_scale = scale.view(1, -1, 1, 1) if conv else scale.view(1, -1)
        y = z * r * out_scale
        if inner.bias is not None:
            y = y + (inner.bias.view(1, -1, 1, 1) if conv else inner.bias)
        return y

    @torch.no_grad()
    def clip(self):
        """Each output column's weights to +-kappa standard deviations of that column."""
        w = self.inner.weight
        cols = w.view(w.shape[0], -1)
        bound = self.cfg.kappa * cols.std(1, keepdim=True)
        cols.copy_(torch.maximum(torch.minimum(cols, bound), -bound))


def wrap(module, cfg):
    """Replaces every Conv2d and Linear under `module` by an HwaLayer around it."""
    layers = []
    for name, child in list(module.named_children()):
        if isinstance(child, (nn.Conv2d, nn.Linear)):
            h = HwaLayer(child, cfg)
            setattr(module, name, h)
            layers.append(h)
        else:
            layers += wrap(child, cfg)
    return layers


def unwrap(module):
    """Puts every HwaLayer's conv or linear layer back in its place."""
    for name, child in list(module.named_children()):
        if isinstance(child, HwaLayer):
            setattr(module, name, child.inner)
        else:
            unwrap(child)


def evaluate(net, model, x_u8, y, bs=500):
    """Correct count and mean loss of the clean network (no HWA; BatchNorm running statistics)."""
    model.eval()
    correct, loss_sum = 0, 0.0
    with torch.no_grad():
        for i in range(0, len(x_u8), bs):
            x = net.prepare(torch.from_numpy(x_u8[i:i + bs]).float().div_(255.0))
            out = model(x)
            t = torch.from_numpy(y[i:i + bs])
            loss_sum += F.cross_entropy(out, t, reduction="sum").item()
            correct += (out.argmax(1) == t).sum().item()
    model.train()
    return correct, loss_sum / max(1, len(x_u8))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Recipe and sources: see the top of this file.")
    p.add_argument("--model", required=True, help="pretrained ResNet-CIFAR .npz state_dict")
    p.add_argument("--name", default=None,
                   help="output name (default: the input's stem + _hwa, e.g. resnet20_hwa)")
    p.add_argument("--out", default=None, help="output directory (default training/runs/NAME)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps", type=int, default=0,
                   help="stop after this many steps in all (0: the epochs); for smoke tests")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.02, help="initial LR of the cosine schedule")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--sigma", type=float, default=0.06,
                   help="weight noise std in units of each column's max |W| (default 0.06)")
    p.add_argument("--kappa", type=float, default=2.5,
                   help="clip each column at +-kappa std (0: no clipping; default 2.5)")
    p.add_argument("--dac-bits", type=int, default=8, help="input quantisation (0: exact)")
    p.add_argument("--adc-bits", type=int, default=8, help="output quantisation (0: exact)")
    p.add_argument("--percentile", type=float, default=99.99,
                   help="converter ranges: this percentile of |x| and |z| (aimc's default)")
    p.add_argument("--range-momentum", type=float, default=0.05,
                   help="moving-average weight of each batch's range")
    p.add_argument("--cutout", type=int, default=8, help="cutout square size (0: off)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--ckpt-minutes", type=float, default=10.0)
    p.add_argument("--limit-train", type=int, default=0, help="only the first N train images")
    p.add_argument("--limit-test", type=int, default=0, help="only the first N test images")
    p.add_argument("--no-progress", action="store_true", help="no progress line")
    p.add_argument("--aimc", default=os.path.join(REPO, "build", "aimc"),
                   help="aimc binary that imports the export into OUT/NAME.h5, aimc's model "
                        "format (default build/aimc; skipped if absent; '' to skip)")
    args = p.parse_args(argv)
    if args.name is None:
        args.name = os.path.splitext(os.path.basename(args.model))[0] + "_hwa"
    if args.out is None:
        args.out = os.path.join(REPO, "training", "runs", args.name)
    for k in ("epochs", "batch"):
        if getattr(args, k) < 1:
            p.error("--%s must be at least 1" % k)
    if not 0 < args.percentile <= 100:
        p.error("--percentile must be in (0, 100]")
    if args.sigma < 0 or args.kappa < 0:
        p.error("--sigma and --kappa must be >= 0")
    return args


def main():
    args = parse_args()
    t_start = time.time()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    random.seed(args.seed)

    data_dir = find_data_dir()
    xtr, ytr, xte, yte = load_cifar(data_dir)
    if args.limit_train:
        xtr, ytr = xtr[:args.limit_train], ytr[:args.limit_train]
    if args.limit_test:
        xte, yte = xte[:args.limit_test], yte[:args.limit_test]
    padded = np.pad(xtr, ((0, 0), (0, 0), (4, 4), (4, 4)), mode="reflect")
    # Cutout fills with the mean pixel, 0 after normalisation.
    mean_u8 = np.round(pytorch_resnet.MEAN * 255.0).astype(np.uint8)

    try:
        net = Network(args.model)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        sys.exit("hwa_train: %s: %s" % (args.model, e))
    model, arch = net.model, net.arch
    if net.suffix == ".onnx":
        # The ResNet-9 normalises inside the model: cutout's fill is the training mean.
        mean_u8 = np.round(model.mean.view(3).numpy() * 255.0).astype(np.uint8)
    start_correct, _ = evaluate(net, model, xte, yte)
    layers = wrap(model, args)
    model.train()

    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                          weight_decay=args.weight_decay)
    n = len(xtr)
    steps_per_epoch = (n + args.batch - 1) // args.batch
    total_steps = steps_per_epoch * args.epochs
    if args.steps:
        total_steps = min(total_steps, args.steps)

    os.makedirs(args.out, exist_ok=True)
    ckpt_path = os.path.join(args.out, "checkpoint.pt")
    command = " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv)
    state = dict(global_step=0, train_seconds=0.0, losses=[], commands=[])
    if args.resume and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        for k in RESUME_KEYS:
            if ck["args"][k] != getattr(args, k):
                sys.exit("hwa_train: --resume: --%s differs from the checkpoint (%r vs %r)" % (
                    k.replace("_", "-"), getattr(args, k), ck["args"][k]))
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        torch.set_rng_state(ck["torch_rng"])
        state = ck["state"]
        print("hwa_train: resumed at step %d of %d" % (state["global_step"], total_steps),
              flush=True)
    elif args.resume:
        print("hwa_train: --resume: no checkpoint in %s, starting afresh" % args.out, flush=True)
    state["commands"].append(command)

    print("hwa_train: %s (%s), %d train / %d test images from %s; software accuracy before: "
          "%d/%d; %d steps of batch %d; sigma %.3g, kappa %.3g, DAC %d bits, ADC %d bits; "
          "torch %s, %d threads" % (args.model, arch, n, len(xte), data_dir, start_correct,
                                    len(xte), total_steps, args.batch, args.sigma, args.kappa,
                                    args.dac_bits, args.adc_bits, torch.__version__,
                                    torch.get_num_threads()), flush=True)

    def save_checkpoint(why):
        atomic_save(dict(args=vars(args), model=model.state_dict(), optimizer=opt.state_dict(),
                         torch_rng=torch.get_rng_state(), state=state), ckpt_path)
        print("\nhwa_train: checkpoint (%s) at step %d -> %s" % (
            why, state["global_step"], ckpt_path), flush=True)

    def on_signal(_sig, _frame):
        Stop.requested = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    crit = nn.CrossEntropyLoss()
    last_ckpt = time.time()
    run_start = time.time()
    run_start_step = state["global_step"]
    plan, plan_epoch = None, -1
    while state["global_step"] < total_steps:
        step = state["global_step"]
        epoch, in_epoch = divmod(step, steps_per_epoch)
        if epoch != plan_epoch:
            plan, plan_epoch = EpochPlan(args.seed, epoch, n, args.batch, args.cutout), epoch
        t0 = time.time()
        x, y = make_train_batch(padded, ytr, plan, in_epoch, mean_u8)
        x = net.prepare(x)
        lr = 0.5 * args.lr * (1 + math.cos(math.pi * (step + 0.5) / total_steps))
        for g in opt.param_groups:
            g["lr"] = lr
        loss = crit(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if args.kappa > 0:
            for h in layers:
                h.clip()
        state["losses"].append(loss.item())
        state["global_step"] += 1
        state["train_seconds"] += time.time() - t0
        done = state["global_step"] - run_start_step
        rate = done / max(1e-9, time.time() - run_start)
        if not args.no_progress:
            sys.stdout.write("\rstep %d/%d (epoch %d) lr %.4f loss %.4f | %.1f img/s | ETA %s " % (
                state["global_step"], total_steps, epoch + 1, lr, loss.item(), rate * args.batch,
                fmt_time((total_steps - state["global_step"]) / max(rate, 1e-9))))
            sys.stdout.flush()
        if Stop.requested:
            save_checkpoint("signal")
            print("hwa_train: stopped by signal; continue with --resume", flush=True)
            return 130
        if in_epoch == steps_per_epoch - 1 or time.time() - last_ckpt > 60 * args.ckpt_minutes:
            save_checkpoint("epoch end" if in_epoch == steps_per_epoch - 1 else "timer")
            last_ckpt = time.time()

    save_checkpoint("done")
    correct, test_loss = evaluate(net, model, xte, yte)
    out_file = os.path.join(args.out, args.name + net.suffix)
    net.export(model, out_file)
    info = dict(name=args.name, source=os.path.basename(args.model), arch=arch,
                software_correct=correct, test_images=len(xte),
                software_accuracy=correct / max(1, len(xte)), test_loss=test_loss,
                software_correct_before=start_correct, steps=state["global_step"],
                epochs=state["global_step"] / steps_per_epoch, train_images=n,
                train_seconds=round(state["train_seconds"], 1),
                recipe={k: getattr(args, k) for k in (
                    "sigma", "kappa", "dac_bits", "adc_bits", "percentile", "range_momentum",
                    "lr", "momentum", "weight_decay", "batch", "cutout", "seed", "threads")},
                commands=state["commands"], torch=torch.__version__, losses=state["losses"],
                wall_seconds_this_run=round(time.time() - t_start, 1))
    if args.aimc and os.path.exists(args.aimc):
        h5 = os.path.join(args.out, args.name + ".h5")
        proc = subprocess.run([args.aimc, "import", out_file, "-o", h5], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            sys.exit("hwa_train: %s import failed: %s" % (args.aimc, proc.stderr.strip()))
        info["aimc_model"] = os.path.basename(h5)
        print("hwa_train: " + proc.stdout.strip(), flush=True)
    with open(os.path.join(args.out, args.name + ".json"), "w") as f:
        json.dump(info, f, indent=1)
    print("\nhwa_train: %s: software accuracy %d/%d (%.2f %%; %d/%d before) -> %s" % (
        args.name, correct, len(xte), 100.0 * correct / max(1, len(xte)), start_correct,
        len(xte), out_file), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
