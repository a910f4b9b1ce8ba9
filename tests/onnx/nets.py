"""The networks of the ONNX exactness test (tests/onnx/test_onnx_exact.py): their PyTorch
definitions, a short deterministic training run on CIFAR-10 and the ONNX export.

Each net takes [N, 3, 32, 32] images in [0, 1] (pixel / 255, as `aimc eval` reads test_batch.bin)
and starts with its own input normalisation, (x - mean) / std, so the exported graph carries it
and the importer must recognise it. The nets are narrow (6 to 64 channels) so that training all
five for a few hundred steps on 2 CPU threads takes well under a minute, and every one fits the
64-core chip with 256 x 256 crossbars (see crossbar_blocks).

Usable as a script for a look at the graphs: /usr/bin/python3 tests/onnx/nets.py OUT_DIR DATA_DIR
trains and exports every net into OUT_DIR and prints each one's ONNX operators.
"""

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import pytorch_resnet  # noqa: E402  (the akamaster ResNet and its .npz loader)

RECORD_BYTES = 1 + 3 * 32 * 32
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
# akamaster's ResNet-CIFAR was trained with the ImageNet statistics (data/README).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROSSBAR_ROWS = CROSSBAR_COLS = 256
CHIP_CORES = 64


class Normalize(nn.Module):
    """(x - mean) / std per channel: exports as Sub and Div by [1, 3, 1, 1] constants."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


def conv_bn(cin, cout, act, kernel=3, stride=1, groups=1):
    """Conv (no bias: BN follows) + BatchNorm + the given activation module."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        act,
    )


class VGGNet(nn.Module):
    """VGG-style: two conv-bn-relu then MaxPool, three times; flatten; one Linear."""

    def __init__(self):
        super().__init__()
        self.norm = Normalize(CIFAR_MEAN, CIFAR_STD)
        self.features = nn.Sequential(
            conv_bn(3, 8, nn.ReLU()), conv_bn(8, 8, nn.ReLU()), nn.MaxPool2d(2),
            conv_bn(8, 16, nn.ReLU()), conv_bn(16, 16, nn.ReLU()), nn.MaxPool2d(2),
            conv_bn(16, 32, nn.ReLU()), conv_bn(32, 32, nn.ReLU()), nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(self.norm(x)), 1))


class Residual(nn.Module):
    """x + f(x), ResNet-9's residual of two conv-bn-relu."""

    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(conv_bn(channels, channels, nn.ReLU()),
                                  conv_bn(channels, channels, nn.ReLU()))

    def forward(self, x):
        return x + self.body(x)


class ResNet9(nn.Module):
    """The Myrtle.ai / David Page ResNet-9 topology at width c (the original has c = 64)."""

    def __init__(self, c=6):
        super().__init__()
        self.norm = Normalize(CIFAR_MEAN, CIFAR_STD)
        self.net = nn.Sequential(
            conv_bn(3, c, nn.ReLU()),
            conv_bn(c, 2 * c, nn.ReLU()), nn.MaxPool2d(2), Residual(2 * c),
            conv_bn(2 * c, 4 * c, nn.ReLU()), nn.MaxPool2d(2),
            conv_bn(4 * c, 8 * c, nn.ReLU()), nn.MaxPool2d(2), Residual(8 * c),
            nn.AdaptiveMaxPool2d(1), nn.Flatten(),
            nn.Linear(8 * c, 10),
        )

    def forward(self, x):
        return self.net(self.norm(x))


def separable(cin, cout, stride):
    """MobileNet's depthwise-separable block: depthwise 3x3 (groups = cin) and pointwise 1x1,
    each followed by BatchNorm and ReLU6."""
    return nn.Sequential(conv_bn(cin, cin, nn.ReLU6(), stride=stride, groups=cin),
                         conv_bn(cin, cout, nn.ReLU6(), kernel=1))


class MobileNetStyle(nn.Module):
    """A stem conv, three depthwise-separable blocks (two with stride 2), global average pool,
    Linear: the depthwise (grouped conv) and clip paths."""

    def __init__(self):
        super().__init__()
        self.norm = Normalize(CIFAR_MEAN, CIFAR_STD)
        self.features = nn.Sequential(
            conv_bn(3, 12, nn.ReLU6(), stride=2),
            separable(12, 16, 1), separable(16, 32, 2), separable(32, 64, 2),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Linear(64, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(self.norm(x)), 1))


class Inception(nn.Module):
    """A 1x1 and a 3x3 branch concatenated on channels, then LeakyReLU."""

    def __init__(self, cin, branch):
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(cin, branch, 1, bias=False), nn.BatchNorm2d(branch))
        self.b3 = nn.Sequential(nn.Conv2d(cin, branch, 3, padding=1, bias=False),
                                nn.BatchNorm2d(branch))
        self.act = nn.LeakyReLU(0.1)

    def forward(self, x):
        return self.act(torch.cat([self.b1(x), self.b3(x)], dim=1))


class ConcatNet(nn.Module):
    """Concat, LeakyReLU and an AvgPool2d whose padded windows divide by the number of real pixels
    (count_include_pad=False, ONNX's default), which differs from the v1 avgpool at the borders."""

    def __init__(self):
        super().__init__()
        self.norm = Normalize(CIFAR_MEAN, CIFAR_STD)
        self.features = nn.Sequential(
            conv_bn(3, 12, nn.LeakyReLU(0.1), stride=2),
            Inception(12, 12),
            nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
            Inception(24, 24),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Linear(48, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(self.norm(x)), 1))


class MLPHead(nn.Module):
    """Two strided convs, then Flatten + Linear + ReLU + Dropout + Linear (Gemm x 2); Dropout
    vanishes in the eval-mode export."""

    def __init__(self):
        super().__init__()
        self.norm = Normalize(CIFAR_MEAN, CIFAR_STD)
        self.features = nn.Sequential(
            conv_bn(3, 16, nn.ReLU(), stride=2), conv_bn(16, 32, nn.ReLU(), stride=2),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(),
                                  nn.Dropout(0.3), nn.Linear(64, 10))

    def forward(self, x):
        return self.head(self.features(self.norm(x)))


class AkamasterResNet(nn.Module):
    """akamaster's CIFAR ResNet as benchmarks/pytorch_resnet.py builds it (option-A shortcuts,
    which export as Slice and Pad), behind its ImageNet-statistics normalisation and with his
    final F.avg_pool2d(out, out.size()[3]), which exports as AveragePool and Reshape."""

    def __init__(self, resnet):
        super().__init__()
        self.norm = Normalize(IMAGENET_MEAN, IMAGENET_STD)
        self.resnet = resnet

    def forward(self, x):
        r = self.resnet
        out = F.relu(r.bn1(r.conv1(self.norm(x))))
        out = r.layer3(r.layer2(r.layer1(out)))
        # akamaster writes out.size()[3]; under the ONNX tracer that is a tensor, which
        # avg_pool2d refuses as a kernel size, so it is taken as the int it is (8).
        out = F.avg_pool2d(out, int(out.size()[3]))
        return r.linear(out.view(out.size(0), -1))


def load_akamaster(npz_path):
    """akamaster's ResNet from a state_dict saved as numpy arrays (data/models/resnet20.npz),
    loaded by the PyTorch reference of `aimc bench`."""
    resnet, _ = pytorch_resnet.load_model(npz_path)
    return AkamasterResNet(resnet).eval()


@dataclass(frozen=True)
class NetSpec:
    """One net of the test: how to build it and how to export it."""
    name: str
    build: type
    opset: int
    # ONNX operators the exported graph must contain: what the net is in the test for.
    exercises: tuple = ()
    # False: a fixed batch of 1 in the exported graph (no dynamic axis).
    dynamic_batch: bool = True
    seed: int = 0


# Opsets 11, 13 and 17 and one fixed-batch graph, as the issue asks: Clip's min/max became inputs
# in 11, Dropout/Squeeze/ReduceMean signatures changed in 13, and 17 is torch 1.13's newest.
# torch 1.13 folds eval-mode BatchNorm into the Conv (so no BatchNormalization node), and exports
# AdaptiveMaxPool2d(1) on a 4 x 4 map as MaxPool(4), not GlobalMaxPool.
TRAINED = [
    NetSpec("vgg", VGGNet, opset=11, exercises=("MaxPool", "Flatten", "Gemm"), seed=1),
    NetSpec("resnet9", ResNet9, opset=13, exercises=("Add", "MaxPool", "Flatten"), seed=2),
    NetSpec("mobilenet", MobileNetStyle, opset=13, exercises=("Clip", "GlobalAveragePool"),
            seed=3),
    NetSpec("concat", ConcatNet, opset=17,
            exercises=("Concat", "LeakyRelu", "AveragePool", "GlobalAveragePool"), seed=4),
    NetSpec("mlp_head", MLPHead, opset=13, exercises=("Flatten", "Gemm", "Relu"),
            dynamic_batch=False, seed=5),
]
RESNET20 = NetSpec("resnet20", AkamasterResNet, opset=13,
                   exercises=("Slice", "Pad", "AveragePool", "Reshape", "Add"))


def read_cifar(path, count=None):
    """(images [N, 3, 32, 32] float32 = pixel / 255, labels [N] int64) of a CIFAR-10 binary
    batch: 3073-byte records of 1 label byte and 3072 planar CHW pixels."""
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % RECORD_BYTES:
        raise ValueError(f"{path}: {raw.size} bytes is not a whole number of records")
    records = raw.reshape(-1, RECORD_BYTES)
    if count is not None:
        records = records[:count]
    images = records[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / np.float32(255.0)
    return torch.from_numpy(images), torch.from_numpy(records[:, 0].astype(np.int64))


def train(spec, train_images, train_labels, steps=200, batch=64, lr=0.05):
    """spec's net after `steps` SGD steps (momentum, weight decay) on the given images, in eval
    mode. Batches follow a seeded permutation, so the result depends on the seed alone."""
    torch.manual_seed(spec.seed)
    model = spec.build()
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4,
                          nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    order = torch.randperm(train_images.shape[0])
    for step in range(steps):
        start = (step * batch) % (train_images.shape[0] - batch + 1)
        idx = order[start:start + batch]
        loss = F.cross_entropy(model(train_images[idx]), train_labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return model.eval()


def export(model, spec, path):
    """model (eval mode) to an ONNX file at `path`, with spec's opset and batch axis."""
    dummy = torch.zeros(1, 3, 32, 32)
    dynamic = {"input": {0: "batch"}, "logits": {0: "batch"}} if spec.dynamic_batch else None
    with torch.no_grad():
        torch.onnx.export(model, dummy, str(path), opset_version=spec.opset,
                          input_names=["input"], output_names=["logits"], dynamic_axes=dynamic,
                          do_constant_folding=True)


def logits(model, images, batch=500):
    """model's float32 logits of `images`, batch by batch."""
    with torch.no_grad():
        return torch.cat([model(images[i:i + batch])
                          for i in range(0, images.shape[0], batch)]).numpy()


def crossbar_blocks(model):
    """How many 256 x 256 crossbar blocks the net's conv and linear layers need when each layer's
    K x O weight matrix is cut into whole blocks: the fewest cores the chip could map it to. A
    grouped conv is one dense block-diagonal layer on the chip (spec v2), so K = C * k * k."""
    total = 0
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            rows = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
            cols = m.out_channels
        elif isinstance(m, nn.Linear):
            rows, cols = m.in_features, m.out_features
        else:
            continue
        total += -(-rows // CROSSBAR_ROWS) * -(-cols // CROSSBAR_COLS)
    return total


def onnx_summary(path):
    """What the test checks of an exported graph: {"ops": sorted operator types, "batch": the
    input's first dimension (a name when dynamic), "groups": every Conv's group count,
    "gemms": how many Gemm nodes, "avgpool_count_include_pad": each AveragePool's attribute
    (ONNX's default 0 when absent)}."""
    import onnx
    graph = onnx.load(str(path)).graph
    batch = graph.input[0].type.tensor_type.shape.dim[0]

    def attribute(node, name, default):
        return next((onnx.helper.get_attribute_value(a) for a in node.attribute
                     if a.name == name), default)
    return {
        "ops": sorted({node.op_type for node in graph.node}),
        "batch": batch.dim_param or batch.dim_value,
        "groups": [attribute(n, "group", 1) for n in graph.node if n.op_type == "Conv"],
        "gemms": sum(n.op_type == "Gemm" for n in graph.node),
        "avgpool_count_include_pad": [attribute(n, "count_include_pad", 0)
                                      for n in graph.node if n.op_type == "AveragePool"],
    }


def main(out_dir, data_dir):
    torch.set_num_threads(2)
    out_dir, data_dir = Path(out_dir), Path(data_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    images, labels = read_cifar(data_dir / "cifar-10" / "data_batch_1.bin")
    test_images, test_labels = read_cifar(data_dir / "cifar-10" / "test_batch.bin", 500)
    specs = [(s, None) for s in TRAINED] + [(RESNET20, data_dir / "models" / "resnet20.npz")]
    for spec, npz in specs:
        start = time.perf_counter()
        model = load_akamaster(npz) if npz else train(spec, images, labels)
        seconds = time.perf_counter() - start
        path = out_dir / f"{spec.name}.onnx"
        export(model, spec, path)
        out = logits(model, test_images)
        correct = int((out.argmax(1) == test_labels.numpy()).sum())
        top2 = np.sort(out, axis=1)[:, -2:]
        print(f"{spec.name}: {seconds:.1f} s, {correct}/500 correct, "
              f"min top-2 margin {float((top2[:, 1] - top2[:, 0]).min()):.2e}, "
              f"{crossbar_blocks(model)} crossbar blocks, opset {spec.opset}: "
              f"{onnx_summary(path)}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
