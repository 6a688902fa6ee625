"""Scenario evals of the support agent (``make eval``; see ``evals/run.py``)."""
