"""The Module every training and scoring path binds: parameters go in and come out in the
released layout, whatever form its graph computes in.

A graph in a CPU training form (symbol.forms) keeps the running statistics of the
BatchNorms before a folded permutation in interleaved channel order, those of padded
activations with the added channels, and (fused forms) fixed states of its ReLU6. This
Module converts them at the boundary (symbol.training_form.aux_to_graph/aux_to_released):
``init_params``/``set_params`` take the released states, ``get_params`` (and so every
checkpoint) gives them. For a graph in the released form nothing changes.
"""
import mxnet as mx

from symbol.training_form import aux_to_graph, aux_to_released


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
        """(arg_params, aux_params) in the released layout, after every pending operation
        has finished: MXNet 1.9's oneDNN BatchNorm updates its moving mean/var without the
        engine ordering that update before get_params' copy, so a plain get_params can
        return stale running statistics (seen here: the same run saved different values
        from one process to the next). Waiting first makes checkpoints exact."""
        mx.nd.waitall()
        arg_params, aux_params = super().get_params()
        return arg_params, aux_to_released(self.symbol, aux_params)
