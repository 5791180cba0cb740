"""Small real .rec files for the tests: images whose class is easy to learn."""
import numpy as np

from common.recordio import write_image_records

PALETTE = np.array([[220, 40, 40], [40, 200, 40], [40, 40, 220], [220, 220, 40],
                    [200, 40, 200], [40, 200, 200], [240, 240, 240], [30, 30, 30]], np.float32)


def class_image(label, size, rng):
    """A noisy image of the class colour with a bright stripe at a class-dependent row."""
    img = PALETTE[label % len(PALETTE)] + rng.normal(0, 25, (size, size, 3))
    row = (label * size) // len(PALETTE)
    img[row:row + max(1, size // 8)] = 255
    return np.clip(img, 0, 255).astype(np.uint8)


def make_rec(prefix, count, num_classes, size=32, seed=0, encoding='.png', labels=None):
    """Writes PREFIX.rec/.idx with ``count`` images; returns the labels."""
    rng = np.random.RandomState(seed)
    if labels is None:
        labels = np.arange(count) % num_classes
    write_image_records(str(prefix), (class_image(int(label), size, rng) for label in labels),
                        labels, encoding)
    return np.asarray(labels)
