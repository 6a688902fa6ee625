"""Benchmarks (``make bench``): the app and a bare Flask app under the same gunicorn settings."""
