"""The arguments of ``flask apps add``, as the CLI tests register an app."""

from __future__ import annotations

from tests.world import INTEGRATION_SECRET


def apps_add_args(slug: str = "acme", **options: str) -> list[str]:
    """``apps add`` for app ``slug``: named ``slug.title()``, inbox ``inb_<slug>``, an example
    integration URL and ``INTEGRATION_SECRET``; ``options`` (``{"--front-inbox": "inb_x"}``) replace
    or add options."""
    given = {
        "--slug": slug,
        "--name": slug.title(),
        "--front-inbox": f"inb_{slug}",
        "--integration-url": f"https://{slug}.example.com",
        "--integration-secret": INTEGRATION_SECRET,
        **options,
    }
    return ["apps", "add", *[x for pair in given.items() for x in pair]]
