"""The workflow world (app over real HTTP, Inngest double, Front/Anthropic/integration/Slack fakes)
is the one ``tests/test_workflow_inbound.py`` builds; the contract tests reuse it."""

from collections.abc import Iterator

import pytest

from tests.contracts import front as contract
from tests.test_workflow_inbound import world  # noqa: F401 - a fixture, re-exported


@pytest.fixture(autouse=True)
def front_contract_kept(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each workflow test here: every request the app made to Front is a row of the contract
    table the service may call, with a body as specified (see ``tests/contracts/front.py``)."""
    if "world" not in request.fixturenames:
        yield
        return
    fake = request.getfixturevalue("world").front
    yield
    assert fake.contract_violations == []
    for req in fake.requests:
        op = contract.find(req.method, req.path)
        assert op is not None and op.service, f"{req.method} {req.path} is not in the table"
