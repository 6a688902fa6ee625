"""The contract tests run in the ``world`` of ``tests/conftest.py`` (app over real HTTP, Inngest
double, Front/Anthropic/integration/Slack fakes); after each, the fakes' contracts must hold."""

from collections.abc import Iterator

import pytest

from tests.contracts import front as contract


@pytest.fixture(autouse=True)
def front_contract_kept(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each workflow test here: Slack saw no call outside its contract, and every request
    the app made to Front is a row of the contract table the service may call, with a body as
    specified (see ``tests/contracts/front.py``)."""
    if "world" not in request.fixturenames:
        yield
        return
    world = request.getfixturevalue("world")
    fake = world.front
    yield
    assert world.slack.contract_violations == []
    assert fake.contract_violations == []
    for req in fake.requests:
        op = contract.find(req.method, req.path)
        assert op is not None and op.service, f"{req.method} {req.path} is not in the table"
