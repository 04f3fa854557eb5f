"""Card text kinds (Markdown, or sanitised HTML from Anki), cloze cards, and the Anki note a card came from.

Existing cards are Markdown (the default).
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cards', '0009_models_moved_to_apps'),
    ]

    operations = [
        migrations.AddField(
            model_name='card',
            name='anki_guid',
            field=models.CharField(blank=True, default='', help_text='The guid of the Anki note imported as this card.', max_length=64),
        ),
        migrations.AddField(
            model_name='card',
            name='anki_ord',
            field=models.PositiveSmallIntegerField(blank=True, help_text="Which card of that note (Anki's card ordinal: template, or cloze - 1).", null=True),
        ),
        migrations.AddField(
            model_name='card',
            name='cloze',
            field=models.PositiveSmallIntegerField(blank=True, help_text='A cloze card: the deletion it asks (1 for {{c1::...}}), hidden on the question side. The question holds the whole text; the answer, any extra shown after it.', null=True),
        ),
        migrations.AddField(
            model_name='card',
            name='text_format',
            field=models.CharField(choices=[('markdown', 'Markdown'), ('html', 'HTML (imported from Anki, sanitised)')], default='markdown', help_text='What the question and answer are written in.', max_length=10),
        ),
        migrations.AddConstraint(
            model_name='card',
            constraint=models.UniqueConstraint(condition=models.Q(('anki_guid', ''), _negated=True), fields=('deck', 'anki_guid', 'anki_ord'), name='card_anki_note_unique'),
        ),
    ]
