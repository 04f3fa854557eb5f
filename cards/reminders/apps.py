from django.apps import AppConfig


class RemindersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cards.reminders"
    label = "reminders"
    verbose_name = "Reminder emails"
