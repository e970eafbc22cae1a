"""The per-process fan-out engine: one channel-layer channel per process, and the sockets it feeds.

The hub knows groups, sockets and layer messages, nothing of rooms as a product (models,
history, presence): :mod:`wsapp.rooms` is built on it, as the admin and views are built on rooms.
"""
