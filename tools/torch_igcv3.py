"""The same networks in PyTorch, built from the same stage tables, for speed comparisons
(tools/benchmark.py --compare-torch). Optional: needs torch (requirements-bench.txt)."""
import _path  # noqa: F401
import torch
from torch import nn

from symbol.common import cifar_strides, upstream_plan
from symbol.igcv3 import IGCV3_D, IGCV3_D_05, IGCV3_D_07, IGCV3_W
from symbol.mobilenetv2 import MOBILENETV2

# network -> (stage table, g1, g2, grouped IGCV3 block or dense MobileNetV2 block)
TABLES = {
    'igcv3': (IGCV3_D, 2, 2, True), 'igcv3_g2g4': (IGCV3_D, 2, 4, True),
    'igcv3_wider': (IGCV3_W, 2, 2, True), 'igcv3_0.7x': (IGCV3_D_07, 2, 2, True),
    'igcv3_0.5x': (IGCV3_D_05, 2, 2, True), 'mobilenetv2': (MOBILENETV2, 1, 1, False),
}


def conv_bn(cin, cout, kernel=1, stride=1, groups=1, relu6=False):
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)]
    if relu6:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class ChannelPermutation(nn.Module):
    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        n, c, h, w = x.shape
        return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class Block(nn.Module):
    def __init__(self, cin, cexp, cout, stride, residual, g1, g2, grouped):
        super().__init__()
        if grouped:
            self.body = nn.Sequential(conv_bn(cin, cexp, groups=g1), ChannelPermutation(g1),
                                      conv_bn(cexp, cexp, 3, stride, cexp, relu6=True),
                                      conv_bn(cexp, cout, groups=g2))
        else:
            self.body = nn.Sequential(conv_bn(cin, cexp, relu6=True),
                                      conv_bn(cexp, cexp, 3, stride, cexp, relu6=True),
                                      conv_bn(cexp, cout))
        self.residual = residual

    def forward(self, x):
        out = self.body(x)
        return x + out if self.residual else out


def build(network, num_classes=1000, image_shape=(3, 224, 224)):
    stages, g1, g2, grouped = TABLES[network]
    cifar = max(image_shape[1:]) <= 64
    if cifar:
        stages = cifar_strides(stages)
    plan = upstream_plan(stages, 1.0, align=max(g1, g2), igcv3_quirks=grouped)
    layers = [conv_bn(image_shape[0], plan.stem, 3, 1 if cifar else 2, relu6=True)]
    cin = plan.stem
    for stage in plan.stages:
        for j in range(stage.n):
            layers.append(Block(cin, stage.expansion(j), stage.c, stage.s if j == 0 else 1,
                                j > 0, g1, g2, grouped))
            cin = stage.c
    layers += [conv_bn(cin, plan.last, relu6=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(plan.last, num_classes)]
    return nn.Sequential(*layers)


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


__all__ = ['build', 'parameter_count', 'torch']
