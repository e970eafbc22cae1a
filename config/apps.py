from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo project as an app, so its management commands (``seed_demo``) are found."""

    name = "config"
    label = "demo"
    verbose_name = "wsapp demo"
