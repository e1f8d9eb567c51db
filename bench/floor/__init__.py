"""The floor: a minimal Django project on the app's Django and database (bench/README.md)."""
