"""Training curves as a picture: a training log's accuracy, cross-entropy, images/s and
learning rate per epoch (read by common/training_log.py), drawn with matplotlib's Agg
backend to a PNG. tools/plot_log.py is the command line."""
import os

from .atomic import atomic_path


def title(curves, path):
    """The run a log is of: network, width, dataset and epochs from its arguments, and
    the file."""
    a = curves.get('arguments', {})
    parts = [str(a['network']) if a.get('network') else None,
             '%gx' % a['multiplier'] if isinstance(a.get('multiplier'), (int, float)) else None,
             str(a['dataset']) if a.get('dataset') else None,
             '%s epochs' % a['num_epochs'] if a.get('num_epochs') else None]
    return '%s (%s)' % (', '.join(p for p in parts if p) or 'training', os.path.basename(path))


def complete(series, curves):
    """``series`` {epoch: value} without the epochs stopped part way (their values are
    those of a fraction of an epoch)."""
    return {e: v for e, v in series.items() if e not in curves['interrupted']}


def plot(curves, out, name=''):
    """``out`` (a PNG, written atomically): accuracy, cross-entropy, images/s and the
    learning rate per epoch of parse_log's ``curves``, the epochs stopped part way left
    out; ``name`` its title."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (acc_ax, loss_ax, speed_ax, lr_ax) = plt.subplots(1, 4, figsize=(19, 4))
    for ax, pairs, ylabel in (
            (acc_ax, (('train', 'train'), ('val', 'validation')), 'top-1 accuracy'),
            (loss_ax, (('train_loss', 'train'), ('val_loss', 'validation')), 'cross-entropy')):
        drawn = False
        for key, label in pairs:
            series = complete(curves[key], curves)
            if series:
                epochs = sorted(series)
                ax.plot(epochs, [series[e] for e in epochs], marker='.', label=label)
                drawn = True
        ax.set_ylabel(ylabel)
        if drawn:
            ax.legend()
    if not curves['val']:
        acc_ax.text(0.5, 0.02, 'no validation in this log', transform=acc_ax.transAxes,
                    ha='center', va='bottom', fontsize=8, color='gray')
    speed = complete(curves['speed'], curves)
    if speed:
        epochs = sorted(speed)
        speed_ax.plot(epochs, [speed[e] for e in epochs], marker='.')
    speed_ax.set_ylabel('training images/s (epoch images / Time cost)')
    if curves['lr']:
        epochs = sorted(curves['lr'])
        rates = [curves['lr'][e] for e in epochs]
        lr_ax.plot(epochs, rates, marker='.')
        if min(rates) > 0 and max(rates) >= 10 * min(rates):
            lr_ax.set_yscale('log')
    lr_ax.set_ylabel('learning rate at the epoch start')
    for ax in (acc_ax, loss_ax, speed_ax, lr_ax):
        ax.set_xlabel('epoch')
        ax.grid(True, alpha=0.3)
    if name:
        fig.suptitle(name)
    fig.tight_layout()
    with atomic_path(out, keep_extension=True) as tmp:
        fig.savefig(tmp, dpi=100, format='png')
    plt.close(fig)
