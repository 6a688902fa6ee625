"""What the benchmark's two plain apps (``bare_app``, ``reference_app``) share with the service's
Flask app, outside the measured routes: the body limit and the ``/healthz`` that ``run.py`` polls
until the server is up."""

from __future__ import annotations

from flask import Flask, Response, jsonify

MAX_CONTENT_LENGTH = 1048576  # the service's default MAX_BODY_BYTES


def plain_flask(name: str) -> Flask:
    app = Flask(name)
    app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    return app
