"""What-if prototypes: measured changes to code that is not bench's, applied only by patching.

Nothing here is used by wsapp or by the demo. A prototype is a settings module of bench's own
(the demo's settings plus an app whose ``ready()`` patches what it measures) and a ``Target``
with ``experiment=True`` in :mod:`bench.targets`, run only when ``--only`` names it or with
``--experiments``, so BENCHMARKS.md can say what a proposed change would buy, measured in the same
run as the code as it is. The last ones (``fastpath``: the direct write, lazy autobahn
formatting, no session wrapper per frame, ``gc.freeze()``) are all in wsapp now.
"""
