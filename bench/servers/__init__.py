"""Baseline servers the runner compares wsapp with, one small module each.

Every app serves the same endpoint shapes as the wsapp demo: ``/ws/echo/`` (every text and binary
frame back unchanged), ``/ws/json-echo/`` (``{"type": "echo", ...}`` back as JSON) and, where it
makes sense, ``/ws/room/<room>/`` (every JSON text frame is broadcast to every member of the room).
"""
