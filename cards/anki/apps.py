from django.apps import AppConfig


class AnkiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cards.anki"
    label = "anki"
    verbose_name = "Anki import"
