"""Where trials live: SQLite, journal files, PostgreSQL; optuna-dashboard over them."""
