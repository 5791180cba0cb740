"""The tables of counts tools/summary.py prints: one network by operator, every
registered network (the README's network table), and the paper's tables beside ours;
the counts are common/complexity.py's, read off the built graphs."""
import symbol
from symbol.paper import PAPER_CIFAR, PAPER_IMAGENET

from .complexity import complexity

ZOO_SHAPES = (('3,224,224', 1000), ('3,32,32', 10))


def count(network, image_shape, num_classes, **kwargs):
    """complexity() of a registered network built for ``image_shape`` ('C,H,W')."""
    sym = symbol.get_symbol(network, image_shape=image_shape, num_classes=num_classes, **kwargs)
    return complexity(sym, symbol.parse_image_shape(image_shape))


def render(header, rows, markdown):
    """A table as aligned text, or Markdown."""
    if markdown:
        lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
        lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
        return '\n'.join(lines)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    fmt = '  '.join('%%-%ds' % w for w in widths)
    return '\n'.join(fmt % tuple(r) for r in [header] + [tuple(map(str, r)) for r in rows])


def millions(n):
    return '%.2fM' % (n / 1e6)


def zoo_table(markdown):
    """Every registered network's parameters and MACs at ImageNet's and CIFAR's inputs."""
    header = ['network']
    for shape, classes in ZOO_SHAPES:
        tag = '%s/%d' % (shape.split(',', 1)[1].replace(',', 'x'), classes)
        header += ['params %s' % tag, 'MACs %s' % tag]
    rows = []
    for name in symbol.list_networks():
        row = [name]
        for shape, classes in ZOO_SHAPES:
            c = count(name, shape, classes)
            row += ['{:,}'.format(c['params']), '{:,}'.format(c['macs'])]
        rows.append(row)
    return render(header, rows, markdown)


def paper_tables(markdown):
    """The paper's CIFAR and ImageNet tables (symbol/paper.py) beside our counts."""
    out = []
    for title, classes, col in (('CIFAR-10', 10, 0), ('CIFAR-100', 100, 1)):
        rows = []
        for label, net, paper_m, acc in PAPER_CIFAR:
            c = count(net, '3,32,32', classes)
            rows.append([label, net, '%.1fM' % paper_m, millions(c['params']),
                         '{:,}'.format(c['macs']), '%.2f' % acc[col]])
        out.append('%s (32x32, %d classes)\n%s' % (title, classes, render(
            ['network', '--network', 'paper params', 'our params', 'our MACs',
             'paper top-1'], rows, markdown)))
    rows = []
    for label, net, paper_m, before, after in PAPER_IMAGENET:
        c = count(net, '3,224,224', 1000)
        rows.append([label, net, '%.1fM' % paper_m, millions(c['params']),
                     '{:,}'.format(c['macs']), before, after])
    out.append('ImageNet (224x224, 1000 classes)\n' + render(
        ['network', '--network', 'paper params', 'our params', 'our MACs',
         'paper top-1/5', 'after retrain'], rows, markdown))
    return '\n\n'.join(out)


def network_summary(network, image_shape, num_classes, multiplier, width_rule, markdown):
    """One network's operators and counts, its parameters by kind, its multiply-adds."""
    c = count(network, image_shape, num_classes, multiplier=multiplier, width_rule=width_rule)
    rows = [[op, n] for op, n in sorted(c['ops'].items())]
    rows += [['learnable parameters', '{:,}'.format(c['params'])],
             ['  convolution', '{:,}'.format(c['conv_params'])],
             ['  batchnorm gamma/beta', '{:,}'.format(c['bn_params'])],
             ['  fully connected', '{:,}'.format(c['fc_params'])],
             ['batchnorm running values', '{:,}'.format(c['aux'])],
             ['multiply-adds (conv + fc)', '{:,}'.format(c['macs'])]]
    title = '%s (%s) x%g (%s rule), input %s, %d classes' % (
        network, symbol.get_spec(network).description, multiplier, width_rule, image_shape,
        num_classes)
    return title + '\n' + render(['', 'count'], rows, markdown)
