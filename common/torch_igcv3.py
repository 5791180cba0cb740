"""The same networks in PyTorch, built from the same records (symbol.registry.NetworkSpec:
stage table, group counts, width arithmetic), for speed comparisons
(tools/benchmark.py --compare-torch). Optional: needs torch (requirements-bench.txt)."""
import contextlib

import torch
from torch import nn

import symbol
from symbol.builder import cifar_strides, resolve_layout
from symbol.igcv2 import balanced_groups
from symbol.registry import family_of
from symbol.widths import plan_widths


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
        # PyTorch's own op: (n, g, c/g, h, w) -> (n, c/g, g, h, w), keeping the input's
        # memory format (a view/transpose/reshape would turn channels_last into NCHW).
        return torch.channel_shuffle(x, self.groups)


def igcv3_body(cin, cexp, cout, stride, g1, g2):
    return nn.Sequential(conv_bn(cin, cexp, groups=g1), ChannelPermutation(g1),
                         conv_bn(cexp, cexp, 3, stride, cexp, relu6=True),
                         conv_bn(cexp, cout, groups=g2))


def mobilenetv2_body(cin, cexp, cout, stride, g1, g2):
    return nn.Sequential(conv_bn(cin, cexp, relu6=True),
                         conv_bn(cexp, cexp, 3, stride, cexp, relu6=True),
                         conv_bn(cexp, cout))


def igcv2_body(cin, cexp, cout, stride, g1, g2):
    groups = balanced_groups(cin, cout)
    return nn.Sequential(conv_bn(cin, cin, 3, stride, cin),
                         conv_bn(cin, cout, groups=groups, relu6=True), ChannelPermutation(groups),
                         conv_bn(cout, cout, groups=cout // groups))


# symbol family -> the block body (symbol/igcv3.py, mobilenetv2.py, igcv2.py)
BODIES = {'igcv3': igcv3_body, 'mobilenetv2': mobilenetv2_body, 'igcv2': igcv2_body}


class Block(nn.Module):
    def __init__(self, body, residual):
        super().__init__()
        self.body, self.residual = body, residual

    def forward(self, x):
        out = self.body(x)
        return x + out if self.residual else out


def build(network, num_classes=1000, image_shape=(3, 224, 224)):
    """The registered ``network`` at 1.0x with the upstream width rule, as symbol builds it."""
    spec = symbol.get_spec(network)
    body = BODIES[spec.family]
    g1, g2 = spec.groups
    make_blocks, _ = family_of(spec)
    _, align, stages = make_blocks(spec, symbol.Form.RELEASED, 'float32')
    cifar = resolve_layout(None, image_shape) == 'cifar'
    if cifar:
        stages = cifar_strides(stages)
    plan = plan_widths(stages, 1.0, 'upstream', align, spec.igcv3_quirks)
    layers = [conv_bn(image_shape[0], plan.stem, 3, 1 if cifar else 2, relu6=True)]
    cin = plan.stem
    for stage in plan.stages:
        for j in range(stage.n):
            layers.append(Block(body(cin, stage.expansion(j), stage.c, stage.s if j == 0 else 1,
                                     g1, g2), j > 0))
            cin = stage.c
    layers += [conv_bn(cin, plan.last, relu6=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(plan.last, num_classes)]
    return nn.Sequential(*layers)


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


# 'eager': float32, NCHW; 'channels_last': float32, model and input channels_last;
# 'bf16': forward and loss under CPU autocast to bfloat16 (parameters, gradients and the
# optimizer stay float32), PyTorch's recipe for mixed precision on CPUs.
TRAINING_CONFIGS = ('eager', 'channels_last', 'bf16')


def training_step(model, x, y, config='eager', compiled=False):
    """A function running one training step of ``model`` on (``x``, ``y``) in the training
    configuration ``config`` (TRAINING_CONFIGS): forward, cross-entropy loss, backward and
    an SGD update (common/fit.py's). With ``compiled`` the model runs under torch.compile,
    which compiles its forward and backward graphs on the first call; the optimizer step
    stays eager, as in the usual use of torch.compile."""
    if config not in TRAINING_CONFIGS:
        raise ValueError('unknown training configuration %r: one of %s'
                         % (config, ', '.join(TRAINING_CONFIGS)))
    model.train()
    if config == 'channels_last':
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=4e-5)
    loss_fn = nn.CrossEntropyLoss()
    forward = torch.compile(model) if compiled else model

    def precision():
        return torch.autocast('cpu', dtype=torch.bfloat16) if config == 'bf16' \
            else contextlib.nullcontext()

    def step():
        opt.zero_grad()
        with precision():
            loss = loss_fn(forward(x), y)
        loss.backward()
        opt.step()
    return step


__all__ = ['TRAINING_CONFIGS', 'build', 'parameter_count', 'torch', 'training_step']
