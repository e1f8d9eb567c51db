def pytest_configure(config):
    config.addinivalue_line(
        "markers", "bench: runs bench/run.py end to end (gunicorn and wrk; a few seconds)"
    )
