"""Template filters of the demo pages."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def hue(username: str | None) -> int:
    """A stable colour hue (0–359) for a username's avatar.

    The same arithmetic as ``hue()`` in ``static/demo/ui.js``, so an avatar rendered here and
    one added live by the page's script have the same colour.
    """
    value = 0
    for char in username or "":
        value = (value * 31 + ord(char)) % 360
    return value
