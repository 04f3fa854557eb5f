"""Importing Anki packages (.apkg): `manage.py import_apkg FILE [--deck SLUG] [--user USERNAME]`.

package.py opens the zip (format, limits, names), collection.py reads notes, cards and the revlog
from its SQLite, mapping.py turns notes into card texts and Anki schedules into SM-2 states: none
of them uses Django. importer.py writes the result into the app's models in one transaction.

Exporting (`manage.py export_apkg DECK_SLUG OUT.apkg [--user USERNAME]`, and the Deck admin's action in
deck_actions.py): mapping_back.py (no Django) turns cards and a learner's schedule back into Anki notes,
cards and revlog rows, and exporter.py has Anki's own library write the package.
"""
