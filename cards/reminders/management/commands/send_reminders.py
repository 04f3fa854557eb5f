"""Run the reminder emails once by hand: `manage.py send_reminders [--dry-run] [--now ISO-TIME]`.

Says whom it mails (or, with --dry-run, would mail) and why: the learner's local
date and hour in their zone, their chosen hour, and what is due. At verbosity 2
it also lists everyone it does not mail, with the reason. `--now` pretends the
run happens at that instant (local days and hours follow it; an ISO time with an
offset, e.g. 2026-03-08T07:00:00Z). A real run claims and sends exactly as the
scheduled task does (cards/reminders/sending.py), so it never repeats a reminder the
schedule already sent.
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from cards.reminders.sending import Decision, explain, send_due_reminders
from studyapp.commands import DatabaseCommand


def aware_instant(text: str) -> dt.datetime:
    """An ISO 8601 time with an offset (or Z); naive times are ambiguous and refused."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--now {text!r} is not an ISO 8601 time, e.g. 2026-03-08T07:00:00Z") from None
    if value.tzinfo is None:
        raise CommandError(f"--now {text!r} has no offset: add Z or +HH:MM, e.g. 2026-03-08T07:00:00Z")
    return value.astimezone(dt.UTC)


def describe(decision: Decision) -> str:
    """'alice <a@example.com>: 3 cards, 1 challenge due; local 2026-03-08 03:xx in America/New_York, chosen 02:00'."""
    who = f"{decision.username} <{decision.address}>" if decision.address else decision.username
    cards = decision.due_cards - decision.due_challenges
    due = f"{cards} card{'s' if cards != 1 else ''}, {decision.due_challenges} challenge"
    due += "s" if decision.due_challenges != 1 else ""
    return (
        f"{who}: {due} due; local {decision.local_date} {decision.local_hour:02d}h in {decision.zone},"
        f" chosen {decision.reminder_hour:02d}h"
    )


class Command(DatabaseCommand):
    help = "Send (or with --dry-run, list) the reminder emails due now, saying whom and why."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Claim and send nothing; say whom it would mail.")
        parser.add_argument("--now", type=str, help="Pretend the run happens at this ISO time (with an offset).")

    def handle(self, *args: object, **options: object) -> None:
        now = aware_instant(options["now"]) if options["now"] else timezone.now()
        verbose = options["verbosity"] >= 2
        decisions, unknown = explain(now)
        for zone in unknown:
            self.stderr.write(f"unknown time zone {zone!r}: its learners get no reminders until it is fixed")
        by_user = {decision.user_id: decision for decision in decisions}
        if options["dry_run"]:
            self.stdout.write(f"Reminders at {now.isoformat()} (dry run: nothing claimed or sent)")
            for decision in decisions:
                if decision.sends:
                    self.stdout.write(f"would mail {describe(decision)}")
                elif verbose:
                    self.stdout.write(f"would not mail {decision.username}: {decision.reason}")
            mailed = sum(decision.sends for decision in decisions)
            self.stdout.write(f"{mailed} would be mailed, {len(decisions) - mailed} not.")
            return

        self.stdout.write(f"Reminders at {now.isoformat()}")
        report = send_due_reminders(now)
        for user_id in report.sent:
            decision = by_user.get(user_id)
            self.stdout.write(f"mailed {describe(decision)}" if decision else f"mailed user {user_id}")
        for user_id in report.refused:
            self.stdout.write(f"address refused by the mail server: user {user_id} (retried next run)")
        if verbose:
            for decision in decisions:
                if not decision.sends:
                    self.stdout.write(f"did not mail {decision.username}: {decision.reason}")
        self.stdout.write(
            f"{len(report.sent)} mailed ({report.claimed} claimed, {report.taken_over} taken over from a dead run),"
            f" {len(report.released)} given back for the next run."
        )
        if report.error:
            raise CommandError(f"sending stopped: {report.error}")
