"""A study of 150 patients: the list opens in well under a second and never blocks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from taper_app.services.audit import AuditTrail
from taper_app.services.figures import summary
from taper_app.services.patients import add_dose_in_session, enroll_in_session
from taper_app.services.records import find_patient_row
from taper_app.services.signatures import sign_records
from taper_app.services.study import load_study
from taper_app.services.validation import check_dose, check_enrollment
from taper_app.storage.engine import copy_sqlite_file, open_database
from taper_app.storage.uow import UnitOfWork
from taper_app.ui.main_window import MainWindow
from taper_app.ui.qt import QApplication, Qt
from taper_app.ui.tasks import TaskRunner
from tests.conftest import NOW, PASSWORD, TODAY, context, fixed_clock

PATIENTS = 150


@pytest.fixture(scope="session")
def _study_of_150(_template_study: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once: 150 patients on three templates, each with three records and a gap."""
    path = tmp_path_factory.mktemp("many") / "study.sqlite"
    copy_sqlite_file(_template_study, path)
    db = open_database(path)
    study = load_study(db)
    templates = ("stepdown-a", "stepdown-slow", "table-12wk")
    with UnitOfWork(db) as uow:
        audit = AuditTrail(uow.session, "nurse", fixed_clock)
        for i in range(PATIENTS):
            subject = f"{101 + i % 3}-{i:03d}"
            day1 = TODAY - timedelta(days=40 + i)
            enrollment, problems = check_enrollment(
                {"subject_id": subject, "site": subject[:3], "day1_date": day1,
                 "baseline_mg": ("10", "20", "30")[i % 3], "template_id": templates[i % 3]},
                set(study.templates), TODAY)
            assert enrollment is not None, problems
            enroll_in_session(uow.session, audit, study, enrollment, "nurse", NOW)
            patient = find_patient_row(uow.session, subject)
            for mg, start, end in (("20", day1, day1 + timedelta(days=27)),
                                   ("15", day1 + timedelta(days=30), TODAY - timedelta(days=10)),
                                   (str(10 + i % 7), TODAY - timedelta(days=9), None)):
                record, problems = check_dose(
                    {"drug": "prednisone", "dose_mg": mg, "frequency": "QD", "route": "PO",
                     "start_date": start, "end_date": end}, study.equivalence, TODAY)
                assert record is not None, problems
                add_dose_in_session(uow.session, audit, patient, record, "nurse", NOW)
        uow.commit()
    db.dispose()
    return path


@pytest.fixture
def db_url(db_path: Path, _study_of_150: Path) -> str:
    """This module's tests run on a fresh copy of the 150-patient study."""
    copy_sqlite_file(_study_of_150, db_path)
    return str(db_path)


def test_150_patients_open_with_the_first_patient_shown(qtbot, db, study, nurse):
    # How fast is measured in bench/ (cold start beside a bare window), never here.
    window = MainWindow(db, study, nurse.actor, today=lambda: TODAY, clock=fixed_clock,
                        tasks=TaskRunner(synchronous=True))
    qtbot.addWidget(window)
    window.show()
    QApplication.processEvents()
    assert window.patients_model.rowCount() == PATIENTS
    assert window.detail.title.text() == window.current_subject() == "101-000"


def test_the_list_loads_off_the_gui_thread_with_the_services_figures(qtbot, db, study, nurse):
    window = MainWindow(db, study, nurse.actor, today=lambda: TODAY, clock=fixed_clock)
    qtbot.addWidget(window)
    window.show()
    # The window is up before the figures arrive; they come back on the GUI thread.
    assert window.patients_model.rowCount() == 0
    assert window.statusBar().currentMessage() == "Loading patients…"
    qtbot.waitUntil(lambda: window.patients_model.rowCount() == PATIENTS, timeout=5000)
    expected = {r["subject_id"]: r for r in summary(db, study, TODAY)}
    for row in window.patients_model.rows():
        assert row.summary == expected[row.subject_id]
    assert window.current_subject() == "101-000"
    window.close()


def test_a_reload_while_loading_keeps_only_the_newest_result(qtbot, db, study, nurse):
    window = MainWindow(db, study, nurse.actor, today=lambda: TODAY, clock=fixed_clock)
    qtbot.addWidget(window)
    window.refresh()
    window.refresh()
    qtbot.waitUntil(lambda: not window.tasks.busy(), timeout=5000)
    assert window.patients_model.rowCount() == PATIENTS
    window.close()


def test_arrow_keys_walk_the_list_and_the_detail_follows(open_window, keyboard):
    # The time a switch takes is measured in bench/ (patient switch), not asserted here.
    window = open_window("nurse")
    window.patient_view.setFocus()
    for _ in range(30):
        keyboard.press(Qt.Key.Key_Down)
    assert window.patient_view.currentIndex().row() == 30
    assert window.detail.title.text() == window.current_subject()


def test_every_status_badge_and_gap_comes_from_the_services(open_window, db, study):
    window = open_window("nurse")
    expected = {r["subject_id"]: r for r in summary(db, study, TODAY)}
    statuses = {row.status for row in window.patients_model.rows()}
    assert statuses <= {"on_schedule", "above", "below", "missing", "pulse", "reason",
                        "signature"}
    assert len(statuses) >= 2
    for row in window.patients_model.rows()[:10]:
        assert row.summary == expected[row.subject_id]
        assert [g[0] for g in row.analysis.gaps]  # the 2-day gap after Day 28


def test_missing_and_needs_signature_find_every_such_patient(qtbot, db, study, nurse):
    """150 patients, ten of them signed today: "missing" finds every patient with a gap
    (the summary's missing days), "Needs signature" every one not signed."""
    signed = [f"{101 + i % 3}-{i:03d}" for i in range(0, 30, 3)]
    sign_records(context(db, "investigator"), [(s, None) for s in signed], TODAY,
                 "reviewed", PASSWORD)
    window = MainWindow(db, study, nurse.actor, today=lambda: TODAY, clock=fixed_clock,
                        tasks=TaskRunner(synchronous=True))
    qtbot.addWidget(window)
    window.show()
    with_gaps = {r["subject_id"] for r in summary(db, study, TODAY) if r["missing_days"]}
    window.filter_edit.setText("missing")
    shown = {window.patients_proxy.row_object(r).subject_id
             for r in range(window.patients_proxy.rowCount())}
    assert shown == with_gaps and len(shown) == PATIENTS
    window.filter_edit.clear()
    window.show_only("signature")
    shown = {window.patients_proxy.row_object(r).subject_id
             for r in range(window.patients_proxy.rowCount())}
    assert len(shown) == PATIENTS - 10 and shown.isdisjoint(signed)
    assert window.count_label.text() == f"{PATIENTS - 10} of {PATIENTS} patients"


def _scrolls_to_the_last_row_and_sorts(view, rows: int) -> None:
    from taper_app.ui.dashboard import PatientFiguresModel
    from taper_app.ui.models import SORT_ROLE

    proxy = view.model()
    assert proxy.rowCount() == rows
    assert view.verticalScrollBar().maximum() > 0  # more rows than fit: it scrolls
    visible = view.viewport().height() // view.rowHeight(0)
    assert visible >= 10, visible  # a useful share of the window, not a sliver
    spared = next(i for i, h in enumerate(PatientFiguresModel.HEADERS) if h[0] == "Spared mg")
    view.sortByColumn(spared, Qt.SortOrder.DescendingOrder)
    values = [proxy.index(r, spared).data(SORT_ROLE) for r in range(rows)]
    assert values == sorted(values, reverse=True) and len(set(values)) > 1
    view.scrollToBottom()
    QApplication.processEvents()
    last = proxy.index(rows - 1, 0)
    rect = view.visualRect(last)
    assert rect.isValid() and view.viewport().rect().contains(rect), (rect, view.viewport())
    assert view.indexAt(rect.center()).row() == rows - 1
    assert proxy.index(rows - 1, spared).data(SORT_ROLE) == min(values)


def test_the_dashboard_table_scrolls_and_sorts_at_150_and_1000_patients(qtbot, db, study,
                                                                        investigator):
    window = MainWindow(db, study, investigator.actor, today=lambda: TODAY, clock=fixed_clock,
                        tasks=TaskRunner(synchronous=True))
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    QApplication.processEvents()
    window.show_dashboard()
    dashboard = window.dashboard
    assert dashboard is not None
    dashboard.resize(1366, 768)
    qtbot.waitExposed(dashboard)
    QApplication.processEvents()
    view = dashboard.figures_view
    _scrolls_to_the_last_row_and_sorts(view, PATIENTS)
    # 1,000 rows: the 150 real summaries, repeated under new subject numbers with their
    # spared figure changed, set on the same model the dashboard fills
    base = dashboard.summaries()
    many = [{**base[i % PATIENTS], "subject_id": f"{101 + i % 3}-{i:04d}",
             "spared_mg": float(base[i % PATIENTS]["spared_mg"]) + i} for i in range(1000)]
    dashboard.figures_model.set_rows(many)
    QApplication.processEvents()
    _scrolls_to_the_last_row_and_sorts(view, 1000)
