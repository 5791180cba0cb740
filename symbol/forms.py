"""The forms a network's graph takes. Every form has the released parameters (names,
shapes, and in checkpoints the released channel order) and computes the released function;
they differ in the operators that compute it:

- ``RELEASED``: the released ops, node for node the released ``igcv3-symbol.json``. What
  checkpoints store and what GPUs train.
- ``CPU_TRAINING``: faster to train on the CPU (symbol.training_form): grouped 1x1 convs
  of at most ``training_form.DENSE_MAX_GROUPS`` groups as dense convs with block-diagonal
  weights, the channel permutation after such a conv folded into its parameters (IGCV2's
  convs of more groups stay grouped, their permutations too), ReLU6 as min(relu(x), 6). BatchNorm's running statistics sit in interleaved channel order inside
  such a graph; ``common.module.Module`` converts them at its boundary.
- ``CPU_TRAINING_FUSED``: ``CPU_TRAINING`` with BatchNorm and ReLU fused into one oneDNN
  operator, which trains only under oneDNN kernels with one activation blocking (AVX2 and
  below, see common.runtime).
- ``CPU_TRAINING_PADDED``: ``CPU_TRAINING_FUSED`` for oneDNN's AVX-512 kernels, which
  block activations by 16 channels (and by 8 where a count is not a multiple of 16, which
  they cannot mix in BatchNorm's backward): the activations between blocks whose channel
  count is not a multiple of 16 (IGCV3's 24) carry zero channels up to the next multiple
  (symbol.training_form.padded): the weights and BatchNorm parameters around them are the
  released ones with zero rows, columns and entries added inside the graph, so the
  parameters, their gradients and the function are the released ones. Built for the
  families that support it (PADDABLE_FAMILIES).
- ``INFERENCE``: a rewrite of any checkpoint, the released one included, for CPU inference
  (symbol.inference_form): permutations folded into the conv rows and BatchNorm
  parameters before them, those convs dense.

The builders (``symbol.get_symbol(..., form=...)``) make the first four (BUILT_FORMS);
``symbol.inference_form.inference_form`` makes the last from a checkpoint.
Which form a run trains is decided in one place, ``common.runtime.training_network``.
"""
import enum


class Form(enum.Enum):
    RELEASED = 'released'
    CPU_TRAINING = 'training'
    CPU_TRAINING_FUSED = 'fused'
    CPU_TRAINING_PADDED = 'padded'
    INFERENCE = 'inference'

    @property
    def cpu_training(self):
        """True for the CPU training forms (fused or not)."""
        return self in (Form.CPU_TRAINING, Form.CPU_TRAINING_FUSED, Form.CPU_TRAINING_PADDED)

    @property
    def fused(self):
        """True for the CPU training forms with BatchNorm fused with ReLU."""
        return self in (Form.CPU_TRAINING_FUSED, Form.CPU_TRAINING_PADDED)


# What the builders make.
BUILT_FORMS = (Form.RELEASED, Form.CPU_TRAINING, Form.CPU_TRAINING_FUSED,
               Form.CPU_TRAINING_PADDED)
# The block families that build Form.CPU_TRAINING_PADDED.
PADDABLE_FAMILIES = ('igcv3', 'mobilenetv2')
# Its channel multiple: oneDNN's AVX-512 blocking.
PAD_MULTIPLE = 16
