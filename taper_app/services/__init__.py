"""Use cases: the only code that changes data. Permissions and the audit trail live here."""
