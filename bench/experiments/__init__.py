"""What-if prototypes: measured changes to code that is not bench's, applied only by patching.

Nothing here is used by wsapp or by the demo. ``python -m bench --only fastpath`` runs the
``*+fastpath`` targets, which start ``manage.py serve`` with
``bench.experiments.fastpath_settings``: the demo's settings plus an app whose ``ready()``
applies the patches in :mod:`bench.experiments.fastpath`, so BENCHMARKS.md can say what each
proposed change to wsapp would buy, measured in the same run as the code as it is.
"""
