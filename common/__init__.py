"""What the entry points share (no entry points here; the networks are in symbol/).

Importing this package, or any module of it, changes nothing in the process; entry points
that use mxnet call ``common.runtime.configure()`` first. Where each concern lives is the
README's Layout section (tests/test_layout.py keeps it complete); each module's docstring
says why it is there.
"""
