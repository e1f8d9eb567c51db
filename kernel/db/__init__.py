"""Caspen's database backend (settings `DATABASES["default"]["ENGINE"] = "kernel.db.postgresql"`)."""
