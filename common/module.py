"""The Module every training and scoring path binds: parameters go in and come out in the
released layout, whatever layout its graph computes in.

The training form of IGCV3 (``fast_group_conv``, symbol/common.py) folds each block's
channel permutation into the parameters before it, so that BatchNorm's running
statistics live in interleaved channel order inside the graph. This Module converts them
at the boundary: ``init_params``/``set_params`` take the released order, ``get_params``
(and so every checkpoint) gives it. For a graph that keeps every state in the released
order (the released graph itself, MobileNetV2) nothing changes.
"""
import mxnet as mx

from symbol.common import aux_to_graph, aux_to_released


class Module(mx.mod.Module):
    def init_params(self, initializer=None, arg_params=None, aux_params=None,
                    allow_missing=False, force_init=False, allow_extra=False):
        super().init_params(initializer=initializer, arg_params=arg_params,
                            aux_params=aux_to_graph(self.symbol, aux_params),
                            allow_missing=allow_missing, force_init=force_init,
                            allow_extra=allow_extra)

    def set_params(self, arg_params, aux_params, allow_missing=False, force_init=True,
                   allow_extra=False):
        # One conversion, in init_params (mx.mod.Module.set_params may call it too).
        self.init_params(None, arg_params, aux_params, allow_missing=allow_missing,
                         force_init=force_init, allow_extra=allow_extra)

    def get_params(self):
        arg_params, aux_params = super().get_params()
        return arg_params, aux_to_released(self.symbol, aux_params)
