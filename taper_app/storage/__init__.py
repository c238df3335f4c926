"""Storage: SQLAlchemy 2.0 models, engine set-up, migrations and the unit of work."""
