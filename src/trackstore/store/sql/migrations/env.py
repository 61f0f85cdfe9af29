"""alembic's environment for trackstore, run by :mod:`trackstore.store.sql.migrate`.

Online, the migration runs on the connection that ``migrate`` put in
``config.attributes["connection"]``, inside the transaction (and under the lock) that
``migrate`` holds: this module neither begins nor commits. A developer may also point alembic's
own command line at this folder with ``sqlalchemy.url`` set; the engine then comes from
:func:`trackstore.store.sql.engine.create_engine`. Offline (``as_sql``), the SQL is rendered for
``config.attributes["dialect_name"]``.
"""

from __future__ import annotations

from alembic import context

from trackstore.store.sql.migrate import VERSION_TABLE

config = context.config

if context.is_offline_mode():
    context.configure(dialect_name=config.attributes.get("dialect_name"),
                      url=config.get_main_option("sqlalchemy.url"), literal_binds=True,
                      version_table=VERSION_TABLE)
    with context.begin_transaction():
        context.run_migrations()
elif config.attributes.get("connection") is not None:
    context.configure(connection=config.attributes["connection"], version_table=VERSION_TABLE)
    with context.begin_transaction():
        context.run_migrations()
else:
    from trackstore.store.sql.engine import create_engine

    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, version_table=VERSION_TABLE)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        engine.dispose()
