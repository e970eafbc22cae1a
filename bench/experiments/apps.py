from django.apps import AppConfig


class FastpathConfig(AppConfig):
    name = "bench.experiments"
    label = "bench_experiments"

    def ready(self) -> None:
        from bench.experiments import fastpath

        fastpath.apply()
