"""Users, roles, password hashing (scrypt) and the permission table, checked in one place."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from .errors import PermissionDenied, Problem, ValidationError

ROLES = ("nurse", "investigator", "monitor", "admin")
MIN_PASSWORD_LENGTH = 10

# scrypt cost: about 50-100 ms on a site laptop. Stored with each hash, so it can change.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1

#: Which roles may do what. Reading, exporting and printing are open to every role.
PERMISSIONS: dict[str, frozenset[str]] = {
    "enroll_patient": frozenset({"nurse", "investigator"}),
    "record_dose": frozenset({"nurse", "investigator"}),
    "void_dose": frozenset({"nurse", "investigator"}),
    "import_clinical_data": frozenset({"nurse", "investigator"}),
    "amend_schedule": frozenset({"investigator"}),
    "sign_record": frozenset({"investigator"}),
    "end_participation": frozenset({"investigator"}),
    "correct_enrollment": frozenset({"investigator"}),
    "verify_source": frozenset({"monitor"}),
    "raise_query": frozenset({"monitor"}),
    "answer_query": frozenset({"nurse", "investigator"}),
    "add_template": frozenset({"admin"}),
    "manage_users": frozenset({"admin"}),
}


@dataclass(frozen=True)
class Actor:
    """The signed-in user on whose behalf a service acts."""

    username: str
    full_name: str
    role: str
    must_change_password: bool = False
    #: The sites this user works for; None means every site.
    sites: frozenset[str] | None = None

    def can(self, action: str) -> bool:
        return self.role in PERMISSIONS[action]

    def works_for(self, site: str) -> bool:
        return self.sites is None or site in self.sites

    def require_site(self, site: str) -> None:
        if not self.works_for(site):
            raise PermissionDenied(f"{self.username} does not work for site {site}")

    def require(self, action: str) -> None:
        if not self.can(action):
            raise PermissionDenied(
                f"{self.username} ({self.role}) may not {action.replace('_', ' ')}")


SYSTEM = Actor("system", "Taper Tracker", "admin")


def check_password_rules(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        message = f"must be at least {MIN_PASSWORD_LENGTH} characters"
        raise ValidationError([Problem(field, message)])


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            maxmem=256 * 1024 * 1024, dklen=32)
    enc = base64.b64encode
    return (f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}$"
            f"{enc(salt).decode()}${enc(digest).decode()}")


_DUMMY_HASH: list[str] = []


def verify_dummy_password(password: str) -> None:
    """Spend the time a real check takes, so an unknown user is not told apart from a wrong
    password by how long the answer takes (a hash made once, of a random password)."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password(secrets.token_urlsafe(16)))
    verify_password(password, _DUMMY_HASH[0])


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                                r=int(r), p=int(p), maxmem=256 * 1024 * 1024,
                                dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
