"""Slack side: Block Kit builders and Bolt listeners.

This package shadows slack_sdk's deprecated legacy ``slack`` module; never import that module.
"""
