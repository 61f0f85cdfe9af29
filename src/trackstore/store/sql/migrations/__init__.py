"""trackstore's alembic migrations: ``env.py`` and one hand-written module per revision.

Nothing here is run directly: :mod:`trackstore.store.sql.migrate` builds alembic's
configuration in code (no ``alembic.ini``) with this folder as the script location and
``trackstore_alembic_version`` as the version table, then calls alembic's commands.

Adding a revision: copy the newest module in ``versions/``, give it the next number as
``revision`` and the previous one as ``down_revision``, write the operations by hand (with the
constraint names that :data:`..schema.NAMING_CONVENTION` gives), a working ``downgrade()``, and
change :mod:`..schema` to match; ``trackstore db check`` and the migration tests then compare the
upgraded database with the schema module on every dialect.
"""
