from django.apps import AppConfig


class StatsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cards.stats"
    label = "stats"
    verbose_name = "Statistics"
