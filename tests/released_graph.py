"""A canonical listing of an MXNet graph: what the released igcv3-symbol.json fixes, as
text that tests/data/released-igcv3-graph.txt pins in the repository.

One line per node in graph order: its index, operator, name (the permutation's
Reshape/SwapAxis nodes, auto-named upstream, as '-'), its attributes sorted (MXNet 1.1's
'attr' and 1.9's 'attrs' alike; none for variables) and its inputs as node:output; then the graph's heads,
and every argument and auxiliary state with its shape at 1x3x224x224. A changed eps,
stride, group count, kernel, permutation order, edge or parameter shape changes a line.
"""
import json

import mxnet as mx

AUTO_NAMED = ('Reshape', 'SwapAxis')


def listing(sym, image_shape=(3, 224, 224)):
    graph = json.loads(sym.tojson())
    lines = []
    for i, node in enumerate(graph['nodes']):
        # (a variable's attributes are not the graph's: MXNet 1.1 copied its layer's onto it)
        attrs = {} if node['op'] == 'null' else node.get('attrs', node.get('attr', {}))
        name = '-' if node['op'] in AUTO_NAMED else node['name']
        lines.append('%d %s %s %s <- %s' % (
            i, node['op'], name, ','.join('%s=%s' % kv for kv in sorted(attrs.items())),
            ' '.join('%d:%d' % (inp[0], inp[1]) for inp in node['inputs'])))
    lines.append('heads %s' % ' '.join('%d:%d' % (h[0], h[1]) for h in graph['heads']))
    args, _, aux = sym.infer_shape(data=(1,) + tuple(image_shape))
    for kind, names, shapes in (('arg', sym.list_arguments(), args),
                                ('aux', sym.list_auxiliary_states(), aux)):
        lines += ['%s %s %s' % (kind, n, 'x'.join(map(str, s))) for n, s in zip(names, shapes)]
    return lines


def load(path):
    return mx.sym.load(path)
