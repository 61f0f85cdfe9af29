"""The SQL store: SQLite, PostgreSQL, MySQL/MariaDB and SQL Server through SQLAlchemy Core."""
