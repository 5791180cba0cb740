"""The paper's CIFAR and ImageNet tables (arXiv 1806.00178, and the authors'
README), as published: what tools/summary.py prints beside our counts and tools/reproduce.py
beside its runs."""

# Parameters in millions and accuracy (%). Rows: (label, network, paper params, paper accuracies).
PAPER_CIFAR = [
    ('MobileNetV2 (authors\' impl.)', 'mobilenetv2', 2.3, (94.56, 77.09)),
    ('IGCV2', 'igcv2', 2.4, (94.76, 77.45)),
    ('IGCV3-D 0.5x', 'igcv3_0.5x', 1.2, (94.73, 77.29)),
    ('IGCV3-D 0.7x', 'igcv3_0.7x', 1.7, (94.92, 77.83)),
    ('IGCV3-D 1.0x', 'igcv3', 2.4, (94.96, 77.95)),
]
PAPER_IMAGENET = [
    ('MobileNetV2', 'mobilenetv2', 3.4, '70.0 / 89.0', '71.4 / 90.1'),
    ('IGCV3-D', 'igcv3', 3.5, '70.6 / 89.7', '72.2 / 90.5'),
]
