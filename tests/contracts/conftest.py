"""The workflow world (app over real HTTP, Inngest double, Front/Anthropic/integration/Slack fakes)
is the one ``tests/test_workflow_inbound.py`` builds; the contract tests reuse it."""

from tests.test_workflow_inbound import world  # noqa: F401 - a fixture, re-exported
