from django.apps import AppConfig


class AnkiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cards.anki"
    label = "anki"
    verbose_name = "Anki import"

    def ready(self) -> None:
        # The Deck admin (the content app's) gets the export action from here: see deck_actions.py.
        from .deck_actions import add_to_deck_admin

        add_to_deck_admin()
