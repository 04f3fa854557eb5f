"""DayRollup: one learner's local study day of the review log, summed, kept exact by database triggers.

The stats page reads these rows instead of the log: a learner's history is at most one row a day
(730 for two years, whether they answered 1,000 or 100,000 times). The triggers (migration 0001)
keep each row equal to what the log gives for that (user, day), in the transaction of every insert,
delete or update of the log, bulk or not, a cascade from a deleted user or card and raw SQL alike.
The application never writes these rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

GRADES = range(6)


class DayRollup(models.Model):
    """The counted answers of one learner's day (cards/stats/figures.py has the definitions).

    Counted: "review" and "import" rows (reviews) and "redrill" rows (re-drills) that no undo row
    points at; each on its own `reviewed_on`. A day without any is not stored (a row whose last
    answer is undone or deleted goes). `new_cards`, `young*` and `mature*` split the reviews by the
    state before the answer (a new card's first answer; else by `before.interval`, under 21 days is
    young), `*_passed` are those answered 3 or higher; `reviews_qN` and `redrills_qN` count grade N.
    """

    # No database constraint: the rows follow the log's, which a deleted user's cascade deletes
    # (the triggers then delete the emptied rows); Django's collector must not delete them first.
    # No index of its own: the unique (user, day) serves every read.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    day = models.DateField(help_text="Learner's local study day (the log's reviewed_on).")
    reviews = models.IntegerField(default=0)
    redrills = models.IntegerField(default=0)
    duration_ms = models.BigIntegerField(default=0, help_text="Answer time of the reviews and re-drills.")
    new_cards = models.IntegerField(default=0)
    young = models.IntegerField(default=0)
    young_passed = models.IntegerField(default=0)
    mature = models.IntegerField(default=0)
    mature_passed = models.IntegerField(default=0)
    reviews_q0 = models.IntegerField(default=0)
    reviews_q1 = models.IntegerField(default=0)
    reviews_q2 = models.IntegerField(default=0)
    reviews_q3 = models.IntegerField(default=0)
    reviews_q4 = models.IntegerField(default=0)
    reviews_q5 = models.IntegerField(default=0)
    redrills_q0 = models.IntegerField(default=0)
    redrills_q1 = models.IntegerField(default=0)
    redrills_q2 = models.IntegerField(default=0)
    redrills_q3 = models.IntegerField(default=0)
    redrills_q4 = models.IntegerField(default=0)
    redrills_q5 = models.IntegerField(default=0)

    class Meta:
        db_table = "stats_day_rollup"
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="stats_day_rollup_user_day")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day}: {self.reviews} reviews, {self.redrills} re-drills"

    # The counters, in the order the migration's SQL writes them.
    COUNTERS = (
        "reviews", "redrills", "duration_ms", "new_cards", "young", "young_passed", "mature", "mature_passed",
        *(f"reviews_q{q}" for q in GRADES), *(f"redrills_q{q}" for q in GRADES),
    )  # fmt: skip
