"""Administration in the window, for administrators: users (add, reset a password, change
the role or the sites, deactivate) and settings (lockout, idle lock, backups).

Every change is the command line's own service call (``services.study.add_user``,
``services.accounts``, ``services.settings.set_setting``): the same rules, the same audit
rows, a reason where the command line asks one. The window only asks and shows.
"""

from __future__ import annotations

from typing import Any

from ..services.accounts import UserView
from ..services.auth import ROLES
from ..services.errors import Problem, ServiceError
from ..services.gateway import local_study
from ..services.settings import SETTINGS
from ..storage.errors import DatabaseError
from . import messages
from .dialogs import DialogHost
from .forms import ServiceDialog, StudyDoor
from .models import RowTableModel
from .qt import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from .widgets import FORM_STYLE, em, fit_columns, line_edit, setup_table

ROLE_TEXT = {"nurse": "Nurse (enters doses, enrolls)",
             "investigator": "Investigator (amends, corrects, signs)",
             "monitor": "Monitor (verifies, queries; reads all)",
             "admin": "Administrator (users, settings)"}


def _sites_text(sites: tuple[str, ...]) -> str:
    return ", ".join(sites) if sites else "every site"


def _parse_sites(text: str) -> list[str]:
    return [s.strip() for s in text.replace(";", ",").split(",") if s.strip()]


class UsersModel(RowTableModel):
    """Every user account: name, printed name, role, sites, state."""

    USER, NAME, ROLE, SITES, STATE = range(5)
    HEADERS = (("User", "Sign-in name"), ("Printed name", "As signatures show it"),
               ("Role", "What the user may do"),
               ("Sites", "The sites whose patients the user works with"),
               ("State", "Active, locked, must choose a password, or deactivated"))
    SAMPLES = {USER: "investigator", NAME: "Ivan Investigator (demo)  ", ROLE: "investigator",
               SITES: "every site", STATE: "active, must choose a password"}

    def display(self, row: UserView, column: int) -> str:
        if column == self.STATE:
            if not row.active:
                return "deactivated"
            notes = ["active"]
            if row.locked_until is not None:
                notes.append(f"locked until {row.locked_until:%Y-%m-%d %H:%M} UTC")
            if row.must_change_password:
                notes.append("must choose a password")
            return ", ".join(notes)
        values = {self.USER: row.username, self.NAME: row.full_name, self.ROLE: row.role,
                  self.SITES: _sites_text(row.sites)}
        return values.get(column, "")

    def sort_value(self, row: UserView, column: int) -> Any:
        return self.display(row, column).casefold()


class UserChangeDialog(ServiceDialog):
    """One change to one account (or a new account): the fields it needs and a reason."""

    KINDS = ("add", "reset", "role", "sites", "deactivate")

    def __init__(self, ctx: StudyDoor, kind: str, user: UserView | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        assert kind in self.KINDS
        self.kind = kind
        self.user = user
        name = user.username if user is not None else ""
        titles = {"add": "Add a user", "reset": f"Reset the password of {name}",
                  "role": f"Change the role of {name}", "sites": f"Change the sites of {name}",
                  "deactivate": f"Deactivate {name}"}
        self.setWindowTitle(titles[kind])
        self.save_button.setText({"add": "&Add", "reset": "&Reset", "deactivate":
                                  "&Deactivate"}.get(kind, "&Save"))
        e = self.errors
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.username = line_edit("sign-in name: letters, digits, . _ -", "username")
        self.full_name = line_edit("as printed under a signature", "full_name")
        self.role = QComboBox()
        self.role.setObjectName("role")
        for role in ROLES:
            self.role.addItem(ROLE_TEXT.get(role, role), role)
        self.sites = line_edit("e.g. 101, 102 (empty: every site)", "sites")
        self.password = line_edit("at least 10 characters; the user changes it at sign-in",
                                  "password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat = line_edit("the same again", "repeat")
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.reason = line_edit("why (kept in the audit trail)", "reason")
        if kind == "add":
            form.addRow("&User name:", e.field("username", self.username))
            form.addRow("&Printed name:", e.field("full_name", self.full_name))
            form.addRow("&Role:", e.field("role", self.role))
            form.addRow("&Sites:", e.field("sites", self.sites))
            form.addRow("First pass&word:", e.field("password", self.password))
            form.addRow("Re&peat:", e.field("repeat", self.repeat))
        elif kind == "reset":
            form.addRow("Temporary pass&word:", e.field("password", self.password))
            form.addRow("Re&peat:", e.field("repeat", self.repeat))
        elif kind == "role":
            assert user is not None
            self.role.setCurrentIndex(self.role.findData(user.role))
            form.addRow("&Role:", e.field("role", self.role))
        elif kind == "sites":
            assert user is not None
            self.sites.setText(", ".join(user.sites))
            form.addRow("&Sites:", e.field("sites", self.sites))
        if kind != "add":
            form.addRow("R&eason:", e.field("reason", self.reason))
        intro = QLabel({
            "add": "The new user signs in with this first password and must then choose "
                   "their own. Without sites, the user works with every site's patients.",
            "reset": "The user signs in with this temporary password and must then choose "
                     "a new one; a locked account is unlocked.",
            "role": "The new role counts from the user's next action.",
            "sites": "The user then sees and changes only these sites' patients (empty: "
                     "every site).",
            "deactivate": "A deactivated user can no longer sign in. Users are never "
                          "deleted: their name stays on what they did."}[kind])
        intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.general_error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(em(self, 40))

    @classmethod
    def build(cls, ctx: StudyDoor, kind: str, user: UserView | None,
               parent: QWidget | None = None) -> UserChangeDialog:
        return cls(ctx, kind, user, parent)

    def save(self) -> None:
        if self.saving:
            return
        kind, door = self.kind, self.gateway
        if kind in ("add", "reset") and self.password.text() != self.repeat.text():
            self.refuse([Problem("repeat", "is not the same password")])
            return
        password, reason = self.password.text(), self.reason.text()
        name = self.user.username if self.user is not None else self.username.text().strip()
        # The fields read here, on the GUI thread: the call runs in a worker.
        role, full_name = str(self.role.currentData()), self.full_name.text().strip()
        sites = _parse_sites(self.sites.text())
        calls = {
            "add": lambda: door.add_user(name, role, full_name, password, sites or None),
            "reset": lambda: door.reset_password(name, password, reason),
            "role": lambda: door.change_role(name, role, reason),
            "sites": lambda: door.set_user_sites(name, sites, reason),
            "deactivate": lambda: door.deactivate_user(name, reason),
        }
        self.password.clear()
        self.repeat.clear()

        def changed(_none: None) -> None:
            done = {"add": "added", "reset": "password reset", "role": "role changed",
                    "sites": "sites changed", "deactivate": "deactivated"}[kind]
            self.saved.emit("", f"{name}: {done}")
            self.accept()

        self.call_service_then("User account", calls[kind], changed)


class UsersDialog(QDialog):
    """The accounts, with a button for each change an administrator makes."""

    def __init__(self, ctx: StudyDoor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = local_study(ctx)
        self.setObjectName("users_view")
        self.setWindowTitle("Users")
        self.setStyleSheet(FORM_STYLE)
        self.model = UsersModel(self)
        self.table = QTableView()
        self.table.setObjectName("users")
        self.table.setModel(self.model)
        setup_table(self.table, stretch_column=UsersModel.STATE)
        fit_columns(self.table, UsersModel.SAMPLES)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._enable())
        buttons = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for kind, text in (("add", "&Add user…"), ("reset", "&Reset password…"),
                           ("role", "Change r&ole…"), ("sites", "Change &sites…"),
                           ("deactivate", "&Deactivate…")):
            button = QPushButton(text)
            button.setObjectName(f"user_{kind}")
            button.clicked.connect(lambda _checked=False, k=kind: self.change(k))
            buttons.addWidget(button)
            self.buttons[kind] = button
        buttons.addStretch(1)
        close = QPushButton("&Close")
        close.clicked.connect(self.accept)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.resize(em(self, 80), em(self, 28))
        self.reload()

    @classmethod
    def build(cls, ctx: StudyDoor, parent: QWidget | None = None) -> UsersDialog:
        return cls(ctx, parent)

    def selected(self) -> UserView | None:
        index = self.table.currentIndex()
        return self.model.row_object(index.row()) if index.isValid() else None

    def reload(self, select: str | None = None) -> None:
        chosen = self.selected()
        keep = select or (chosen.username if chosen is not None else None)
        try:
            users = self.ctx.list_users()
        except (ServiceError, DatabaseError) as exc:
            messages.error(self, "Cannot read the users", str(exc))
            return
        self.model.set_rows(users)
        for row, user in enumerate(users):
            if user.username == keep:
                self.table.selectRow(row)
        self._enable()

    def _enable(self) -> None:
        user = self.selected()
        for kind, button in self.buttons.items():
            button.setEnabled(kind == "add" or (user is not None and user.active))

    def change(self, kind: str) -> None:
        user = None if kind == "add" else self.selected()
        if kind != "add" and user is None:
            return
        dialog = UserChangeDialog.build(self.ctx, kind, user, self)
        name = user.username if user is not None else None
        dialog.saved.connect(lambda _s, _summary: self.reload(
            name or dialog.username.text().strip()))
        DialogHost.present(dialog)


class SettingsDialog(ServiceDialog):
    """Every administrator setting, declared as data; each change saved with the reason."""

    def __init__(self, ctx: StudyDoor, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.setWindowTitle("Settings")
        self.current = self.gateway.settings()
        self.edits: dict[str, QLineEdit] = {}
        e = self.errors
        form = QFormLayout()
        for setting in SETTINGS:
            edit = line_edit(f"{setting.minimum} to {setting.maximum}", setting.key)
            edit.setText(str(self.current[setting.key]))
            self.edits[setting.key] = edit
            form.addRow(f"{setting.label}:", e.field(setting.key, edit))
        self.reason = line_edit("why (kept in the audit trail)", "reason")
        form.addRow("R&eason:", e.field("reason", self.reason))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.general_error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(em(self, 44))

    @classmethod
    def build(cls, ctx: StudyDoor, parent: QWidget | None = None) -> SettingsDialog:
        return cls(ctx, parent)

    def changed(self) -> dict[str, str]:
        return {key: edit.text().strip() for key, edit in self.edits.items()
                if edit.text().strip() != str(self.current[key])}

    def save(self) -> None:
        changed = self.changed()
        if not changed:
            self.refuse([Problem(SETTINGS[0].key, "nothing changed")])
            return
        # Every value checked first (the service's own bounds), so a bad one leaves the
        # others unsaved too; then each is one audited change.
        problems = []
        for setting in SETTINGS:
            if setting.key not in changed:
                continue
            try:
                number = int(changed[setting.key])
            except ValueError:
                problems.append(Problem(setting.key, "is not a whole number"))
                continue
            if not setting.minimum <= number <= setting.maximum:
                problems.append(Problem(setting.key, f"must be from {setting.minimum} to "
                                                     f"{setting.maximum}"))
        if not self.reason.text().strip():
            problems.append(Problem("reason", "a reason is required"))
        if problems:
            self.refuse(problems)
            return
        reason = self.reason.text()

        def apply() -> list[str]:
            for key, value in changed.items():
                self.gateway.set_setting(key, value, reason)
            return list(changed)

        def applied(done: list[str]) -> None:
            self.saved.emit("", f"settings changed: {', '.join(done)}")
            self.accept()

        self.call_service_then("Settings", apply, applied)
