"""The HTTP doors (Flask blueprints). Only this package and ``app.py`` import Flask."""
