"""Schedule steps keep the frequency they were written with (the patient's dosing calendar).

A table step "5 mg QOD" has always been stored as its daily PEQ, 2.5 mg, and every figure
counts that; the calendar must also know that the patient takes 5 mg every other day. Two
columns: ``frequency`` (QD for every existing step unless its table wrote another) and
``administered_ug``, the PEQ of one administration as written (5000 for "5 mg QOD").

Existing studies: a step from a table template (enrolled, or resumed after an amendment)
whose day and stored daily dose are those of a table row with another frequency gets that
row's frequency and dose. An amendment's own step is a daily dose (QD), and band steps are
daily. ``dose_ug`` is not touched, so no figure changes.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-10 09:00:00
"""

import json
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0004'
branch_labels = None
depends_on = None

#: Administrations per day (domain.md §3), as the schedule code had them at this revision.
PER_DAY = {"QD": Fraction(1), "BID": Fraction(2), "TID": Fraction(3), "QID": Fraction(4),
           "QOD": Fraction(1, 2), "QW": Fraction(1, 7)}


def _daily_ug(dose_mg: str, frequency: str) -> int:
    """The daily PEQ the schedule stored for a table row (``TableStep.daily_mg``), in µg."""
    per_day = PER_DAY[frequency]
    daily = Decimal(dose_mg) * Decimal(per_day.numerator) / Decimal(per_day.denominator)
    return int(daily.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP) * 1000)


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy of the table): SQLite keeps the table, and with it the
    # triggers of 0004 that refuse deletes.
    op.add_column("schedule_step", sa.Column("frequency", sa.String(length=8),
                                             server_default="QD", nullable=False))
    op.add_column("schedule_step", sa.Column("administered_ug", sa.BigInteger(),
                                             nullable=True))
    bind = op.get_bind()
    templates = bind.execute(sa.text(
        "SELECT id, definition_json FROM schedule_template WHERE kind = 'table'")).all()
    for template_id, definition in templates:
        for step in json.loads(definition).get("step", []):
            frequency = str(step.get("frequency", "QD")).upper()
            if "dose_mg" not in step or frequency not in PER_DAY or frequency == "QD":
                continue  # a daily row, or a fraction of baseline (a daily dose)
            administered_ug = int(Decimal(str(step["dose_mg"])) * 1000)
            bind.execute(sa.text(
                "UPDATE schedule_step SET frequency = :frequency, "
                "administered_ug = :administered "
                "WHERE day = :day AND dose_ug = :daily "
                "AND patient_id IN (SELECT id FROM patient WHERE template_id = :template) "
                "AND (amendment_id IS NULL OR day > (SELECT a.day FROM amendment a "
                "WHERE a.id = schedule_step.amendment_id))"),
                {"frequency": frequency, "administered": administered_ug,
                 "day": int(step["day"]), "daily": _daily_ug(str(step["dose_mg"]), frequency),
                 "template": template_id})


def downgrade() -> None:
    op.drop_column("schedule_step", "administered_ug")
    op.drop_column("schedule_step", "frequency")
