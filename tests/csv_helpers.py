"""CSV files as the admin's upload form receives them."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile


def csv_upload(text: str, name: str = "cards.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")
