"""wsapp's benchmark harness: ``python -m bench`` (``--quick`` while developing).

Performance is only claimed as ratios measured in one run on one machine (the machines are shared
and noisy), so the runner measures every server back to back and prints ratios against one anchor:
a plain Channels ``AsyncWebsocketConsumer`` on Daphne.
"""
