"""``anthropic``: ``GET /v1/models/{ANTHROPIC_MODEL}`` (the key works, the model exists; no tokens).

The SDK is imported inside the check: it costs about a second.
"""

from __future__ import annotations

from support.config import Config
from support.doctor.report import FIXES, Check, error_text


def anthropic_checks(config: Config, timeout: float) -> list[Check]:
    if not config.anthropic_api_key:
        return [Check("fail", "anthropic", "ANTHROPIC_API_KEY unset", FIXES["ANTHROPIC_API_KEY"])]
    import anthropic

    model = config.anthropic_model
    client = anthropic.Anthropic(
        api_key=config.anthropic_api_key,
        base_url=config.anthropic_base_url,
        max_retries=0,
        timeout=timeout,
    )
    try:
        found = client.models.retrieve(model)
    except anthropic.AuthenticationError:
        return [
            Check(
                "fail",
                "anthropic",
                "the API refused the key (HTTP 401)",
                FIXES["ANTHROPIC_API_KEY"],
            )
        ]
    except anthropic.NotFoundError:
        return [
            Check(
                "fail",
                "anthropic",
                f"the key works but model {model} does not exist (retired or misspelt)",
                FIXES["ANTHROPIC_MODEL"],
            )
        ]
    except anthropic.RateLimitError:
        return [Check("warn", "anthropic", "key accepted but rate limited (HTTP 429) right now")]
    except anthropic.APIStatusError as exc:
        return [
            Check(
                "fail",
                "anthropic",
                f"models API answered HTTP {exc.status_code}",
                "check the key's permissions in the Anthropic Console, and ANTHROPIC_BASE_URL",
            )
        ]
    except anthropic.APIConnectionError as exc:
        return [
            Check(
                "fail",
                "anthropic",
                f"cannot reach the Anthropic API: {error_text(exc)}",
                "check outbound network to api.anthropic.com, and ANTHROPIC_BASE_URL",
            )
        ]
    finally:
        client.close()
    return [Check("ok", "anthropic", f"key accepted; model {found.id} available")]
