"""The per-process fan-out engine: one channel-layer channel per process, and the sockets it feeds.

- :mod:`~wsapp.hub.messages`: the layer messages a hub acts on (typed constructors) and the
  group names they are sent to — the hub's input contract.
- :mod:`~wsapp.hub.publish`: handing those messages to the layer (``publish_to_room``,
  ``publish_raw``, ``publish_to_user``).
- :mod:`~wsapp.hub.delivery`: rooms → local sockets (plain or multiplexed as topics), held
  frames and floors, and the writes.
- :mod:`~wsapp.hub.hub`: the ``Hub`` (joins, the user index, layer messages, refresh)
  and the process's hubs, one per event loop (``get_hub``, ``current_hub``, ``stop_hub``).
- :mod:`~wsapp.hub.runtime`: the per-loop registry the hubs are held in.
- :mod:`~wsapp.hub.recovery`: what a hub does when the layer answers again after an outage.
- :mod:`~wsapp.hub.store`: the shared, expiring sets (presence, counts, rate buckets).
- :mod:`~wsapp.hub.users`: every authenticated socket indexed by user, for revocation and caps.

The hub knows groups, sockets and layer messages, nothing of rooms as a product (models,
history, presence): :mod:`wsapp.rooms` is built on it, and presence and the dashboard's stats
plug into it through typed registrations (``on_refresh``, ``on_forget``, hub services).
"""
