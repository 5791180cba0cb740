"""Unpickling files from elsewhere with an allowlist: anything not on it is refused
before it can run (a plain pickle.load runs whatever the file asks for)."""
import io
import pickle

from .errors import UserError


class _Allowlisted(pickle.Unpickler):
    def __init__(self, data, allowed, what, replace=None, **kwargs):
        super(_Allowlisted, self).__init__(io.BytesIO(data), **kwargs)
        self.allowed, self.what, self.replace = allowed, what, replace or {}

    def find_class(self, module, name):
        if (module, name) not in self.allowed:
            raise UserError('refusing %s that references %s.%s: such files hold only %s'
                            % (self.what[0], module, name, self.what[1]))
        if (module, name) in self.replace:
            return self.replace[(module, name)]
        return super(_Allowlisted, self).find_class(module, name)


def load(data, allowed, what, replace=None, **kwargs):
    """Unpickle ``data`` admitting only the ``(module, name)`` globals in ``allowed``;
    ``what`` is (the thing read, what it may hold) for the error message; ``replace``
    maps some of them to classes of ours (that check what they are given)."""
    return _Allowlisted(data, allowed, what, replace, **kwargs).load()
