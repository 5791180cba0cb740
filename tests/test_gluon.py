"""common/gluon.py: the networks as Gluon HybridBlocks give the Module's outputs."""
import mxnet as mx
import numpy as np

import symbol
from common.gluon import checkpoint_block, network_block
from common.inference import bind_for_inference
from helpers import module_outputs


def test_a_checkpoints_block_gives_the_modules_probabilities(trained):
    """Logits out (no label input): their softmax is the Module's output, imperative and
    hybridized, and the block carries the checkpoint's preprocessing."""
    from common import checkpoint
    folder, _ = trained
    block = checkpoint_block(str(folder / 'm'))
    assert isinstance(block, mx.gluon.HybridBlock)
    assert block.protocol.image_shape == (3, 16, 16) and list(block.protocol.mean) == [128] * 3
    x = np.random.RandomState(0).uniform(-2, 2, (4, 3, 16, 16)).astype(np.float32)
    sym, arg, aux, _ = checkpoint.load_model(str(folder / 'm'), 2, (3, 16, 16))
    mod = bind_for_inference(sym, arg, aux, 4, (3, 16, 16), [mx.cpu()], fused=False)
    want = module_outputs(mod, x)
    got = mx.nd.softmax(block(mx.nd.array(x))).asnumpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    block.hybridize()
    np.testing.assert_allclose(mx.nd.softmax(block(mx.nd.array(x))).asnumpy(), want,
                               rtol=1e-4, atol=1e-6)
    assert want.argmax(1).tolist() == got.argmax(1).tolist()


def test_a_fresh_network_block_has_the_networks_parameters():
    block = network_block('igcv3', num_classes=10, image_shape='3,32,32')
    block.initialize(mx.init.Xavier())
    out = block(mx.nd.zeros((2, 3, 32, 32)))
    assert out.shape == (2, 10)
    sym = symbol.get_symbol('igcv3', num_classes=10, image_shape='3,32,32')
    shapes, _, aux_shapes = sym.infer_shape(data=(1, 3, 32, 32))
    count = sum(int(np.prod(s)) for n, s in zip(sym.list_arguments(), shapes)
                if n not in ('data', 'softmax_label'))
    count += sum(int(np.prod(s)) for s in aux_shapes)
    assert sum(p.data().size for p in block.collect_params().values()) == count
