"""Importing Anki packages (.apkg): `manage.py import_apkg FILE [--deck SLUG] [--user USERNAME]`.

package.py opens the zip (format, limits, names), collection.py reads notes, cards and the revlog
from its SQLite, mapping.py turns notes into card texts and Anki schedules into SM-2 states: none
of them uses Django. importer.py writes the result into the app's models in one transaction.
"""
