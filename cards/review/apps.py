from django.apps import AppConfig


class ReviewConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cards.review"
    label = "review"
    verbose_name = "Daily review"
