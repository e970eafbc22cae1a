"""README's "your own token scheme" example, as a real app: a project's API keys in its own model,
checked by a small middleware inside wsapp's stack.

``models.py``, ``middleware.py``, ``asgi.py`` and ``routing.py`` are the README's code blocks
(``tests/wsapp/test_own_token_scheme.py`` checks they have not drifted apart), run in-process and
under ``manage.py serve`` (``tests/e2e/test_own_token_scheme.py``).
"""
