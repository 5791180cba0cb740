"""Unpickling files from elsewhere with an allowlist: anything not on it is refused
before it can run (a plain pickle.load runs whatever the file asks for)."""
import io
import pickle

from .errors import UserError


class _Allowlisted(pickle.Unpickler):
    def __init__(self, data, allowed, what, **kwargs):
        super(_Allowlisted, self).__init__(io.BytesIO(data), **kwargs)
        self.allowed, self.what = allowed, what

    def find_class(self, module, name):
        if (module, name) not in self.allowed:
            raise UserError('refusing %s that references %s.%s: such files hold only %s'
                            % (self.what[0], module, name, self.what[1]))
        return super(_Allowlisted, self).find_class(module, name)


def load(data, allowed, what, **kwargs):
    """Unpickle ``data`` admitting only the ``(module, name)`` globals in ``allowed``;
    ``what`` is (the thing read, what it may hold) for the error message."""
    return _Allowlisted(data, allowed, what, **kwargs).load()
