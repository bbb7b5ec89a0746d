"""The performance benchmark of task-emulator (issue 8): `python -m benchmarks --help`.

Not part of the installed package: it runs from a source checkout, next to `emulator/`.
"""
