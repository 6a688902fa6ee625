"""Markdown (what the agent writes, what Front gets as HTML) turned into Slack's ``mrkdwn``.

Block Kit ``mrkdwn`` is not Markdown: bold is ``*x*`` (``**x**`` shows the asterisks), italics
``_x_``, strike ``~x~``, links ``<url|text>``, no headings, no list syntax, and ``&``, ``<``, ``>``
must be escaped as ``&amp;``, ``&lt;``, ``&gt;`` (https://api.slack.com/reference/surfaces/formatting).
The draft is parsed with the same CommonMark parser that renders it for Front (raw HTML off, so a
``<b>`` in the text stays text) and written back out the way Slack displays it:

* ``**bold**`` / ``__bold__`` -> ``*bold*``; ``*em*`` / ``_em_`` -> ``_em_``; ``code`` kept;
* ``[text](url)`` -> ``<url|text>`` (http, https and mailto only; other links keep their text);
* headings -> a bold line; lists -> ``•`` / ``◦`` / ``1.`` lines, nested ones indented;
* block quotes -> ``>`` lines; fenced and indented code -> a ```` ``` ```` block (language dropped);
* a thematic break -> a line.

``preview(markdown, limit)`` fits the result in one section's text (Slack: 3000 characters) by
keeping whole top-level blocks and saying where it was cut; a single block that is too long is cut
without leaving an open code block or a half link behind.
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import urlsplit

BULLETS = ("•", "◦", "▪")
INDENT = "    "
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
CUT_NOTE = "_… cut here: the full draft is in Front._"


@functools.cache
def _parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def escape(text: str) -> str:
    """Slack's three control characters, escaped as Slack requires."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(markdown: str) -> str:
    """The whole draft as Slack ``mrkdwn``."""
    return "\n\n".join(blocks(markdown))


def blocks(markdown: str) -> list[str]:
    """The draft's top-level blocks (paragraphs, lists, code...), each as ``mrkdwn``."""
    from markdown_it.tree import SyntaxTreeNode

    tree = SyntaxTreeNode(_parser().parse(markdown))
    return [text for text in (_block(node, 0) for node in tree.children) if text]


def preview(markdown: str, limit: int) -> str:
    """At most ``limit`` characters of ``mrkdwn``: whole blocks while they fit, then a note."""
    parts = blocks(markdown)
    whole = "\n\n".join(parts)
    if len(whole) <= limit:
        return whole
    budget = limit - len(CUT_NOTE) - 2  # room for the blocks when the note follows them
    out: list[str] = []
    used = 0
    for text in parts:
        extra = len(text) + (2 if out else 0)
        if used + extra > budget:
            break
        out.append(text)
        used += extra
    if not out and budget > 0:
        out.append(_cut(parts[0], budget))
    return "\n\n".join([*out, CUT_NOTE])


def _cut(text: str, room: int) -> str:
    """``text`` shortened to ``room`` characters without an open code block or half a link."""
    cut = text[: max(room - 4, 0)]
    opened = cut.rfind("<")
    if opened > cut.rfind(">"):
        cut = cut[:opened]
    cut = re.sub(r"&[a-z]*$", "", cut).rstrip()  # no half entity
    if cut.count("```") % 2:
        cut += "\n```"
    return cut + "…"


# -- blocks ------------------------------------------------------------------------------------


def _block(node: Any, depth: int) -> str:
    kind = node.type
    if kind == "paragraph":
        return "".join(_inline(child) for child in node.children)
    if kind == "heading":
        return f"*{''.join(_inline(child) for child in node.children).strip()}*"
    if kind in ("bullet_list", "ordered_list"):
        return _list(node, depth)
    if kind == "blockquote":
        inner = "\n".join(_block(child, depth) for child in node.children)
        return "\n".join("> " + line if line else ">" for line in inner.splitlines())
    if kind in ("fence", "code_block"):
        return "```\n" + escape(node.content.rstrip("\n")) + "\n```"
    if kind == "hr":
        return "──────────"
    if kind == "inline":
        return "".join(_inline(child) for child in node.children)
    return escape(node.content or "")


def _list(node: Any, depth: int) -> str:
    """One line per item (``•`` / ``1.``); an item's other lines and nested lists indented."""
    lines: list[str] = []
    start = int(node.attrs.get("start", 1)) if node.type == "ordered_list" else 1
    for number, item in enumerate(node.children, start=start):
        marker = f"{number}." if node.type == "ordered_list" else BULLETS[depth % len(BULLETS)]
        first = True
        for child in item.children:
            text = _block(child, depth + 1)
            if child.type in ("bullet_list", "ordered_list"):
                lines.extend(text.splitlines())  # indented by its own depth
                continue
            for line in text.splitlines() or [""]:
                lines.append(
                    f"{INDENT * depth}{marker} {line}" if first else INDENT * (depth + 1) + line
                )
                first = False
        if first:
            lines.append(f"{INDENT * depth}{marker}")
    return "\n".join(lines)


# -- inline ------------------------------------------------------------------------------------


def _inline(node: Any) -> str:
    kind = node.type
    if kind == "text":
        return escape(node.content)
    if kind in ("softbreak", "hardbreak"):
        return "\n"
    if kind == "code_inline":
        return f"`{escape(node.content)}`"
    inner = "".join(_inline(child) for child in node.children)
    if kind == "strong":
        return _wrap("*", inner)
    if kind == "em":
        return _wrap("_", inner)
    if kind == "s":
        return _wrap("~", inner)
    if kind == "link":
        return _link(str(node.attrs.get("href", "")), inner)
    if kind == "image":
        alt = escape(node.content or "")
        return _link(str(node.attrs.get("src", "")), alt)
    return inner or escape(node.content or "")


def _wrap(mark: str, inner: str) -> str:
    """Slack formats ``*x*`` only when the marks touch the words: spaces go outside them."""
    stripped = inner.strip()
    if not stripped:
        return inner
    lead = inner[: len(inner) - len(inner.lstrip())]
    trail = inner[len(inner.rstrip()) :]
    return f"{lead}{mark}{stripped}{mark}{trail}"


def _link(href: str, label: str) -> str:
    if urlsplit(href).scheme.lower() not in LINK_SCHEMES:
        return label or escape(href)
    url = escape(href).replace("|", "%7C")
    text = label.replace("|", "¦")
    if not text or text == url or text == escape(href.removeprefix("mailto:")):
        return f"<{url}>"
    return f"<{url}|{text}>"
