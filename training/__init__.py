"""CMSC training package: architecture, data, losses, metrics, train, evaluate, export.

Run modules with Debian's Python (``/usr/bin/python3 -m training.train ...``) from the
repository root; Debian's ``python3-torch`` is installed for that interpreter only.
"""
