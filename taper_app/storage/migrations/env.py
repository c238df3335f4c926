"""Alembic environment: runs on the engine the application hands over (no alembic.ini)."""

from alembic import context

from taper_app.storage.models import Base

config = context.config
engine = config.attributes.get("engine")


def run() -> None:
    if engine is None:
        raise RuntimeError("migrations run from taper_app.storage.engine.open_database")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()
