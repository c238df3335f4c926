"""The CSV export for statisticians: its milligrams agree with ``summary --json`` exactly."""

from __future__ import annotations

import csv
from datetime import date

from taper_app.services.exports import export_csv
from taper_app.services.figures import summary
from taper_app.services.patients import enroll_patient, record_dose

AS_OF = date(2026, 1, 10)


def read(path):
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_large_and_recurring_doses_keep_their_milligrams_to_a_microgram(nurse, study, db,
                                                                          tmp_path):
    # 0.5 mg dexamethasone is 3.333… mg PEQ; with a 1 g methylprednisolone pulse the day is
    # 1253.333… mg: six significant digits would print 1253.33 and disagree with the summary.
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2026-01-01", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    for drug, mg, freq, route, start, end in (
            ("dexamethasone", "0.5", "QD", "PO", "2026-01-01", ""),
            ("methylprednisolone", "1000", "ONCE", "IV", "2026-01-10", ""),
            ("dexamethasone", "200", "ONCE", "IV", "2026-01-05", "")):
        record_dose(nurse, study, "101-001", {"drug": drug, "dose_mg": mg, "frequency": freq,
                                              "route": route, "start_date": start,
                                              "end_date": end})
    export_csv(db, study, tmp_path, AS_OF)
    figures = summary(db, study, AS_OF, "101-001")[0]

    daily = {row["date"]: row for row in read(tmp_path / "daily_series.csv")}
    assert daily["2026-01-10"]["actual_peq_mg"] == "1253.333"
    assert float(daily["2026-01-10"]["actual_peq_mg"]) == figures["actual_mg"]
    assert daily["2026-01-02"]["actual_peq_mg"] == "3.333"
    assert daily["2026-01-05"]["actual_peq_mg"] == "1336.667"
    assert daily["2026-01-02"]["scheduled_peq_mg"] == "20"
    cumulative = sum(float(row["actual_peq_mg"]) for row in daily.values())
    assert abs(cumulative - figures["cumulative_mg"]) < 0.01

    records = {row["drug"] + row["dose_mg"]: row for row in read(tmp_path / "dose_records.csv")}
    assert records["dexamethasone200"]["peq_mg_per_day"] == "1333.333"
    assert records["dexamethasone0.5"]["peq_mg_per_day"] == "3.333"
    assert records["methylprednisolone1000"]["peq_mg_per_day"] == "1250"
