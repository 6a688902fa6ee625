"""Rewrite README.md's configuration table and .env.example from support/config.py (`make docs`)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from support.config import env_example, markdown_table  # noqa: E402

README = ROOT / "README.md"
MARKERS = re.compile(r"<!-- config-table:start -->.*?<!-- config-table:end -->", re.S)

text = README.read_text()
if not MARKERS.search(text):
    raise SystemExit("README.md has no config-table markers")
table = "<!-- config-table:start -->\n" + markdown_table() + "\n<!-- config-table:end -->"
README.write_text(MARKERS.sub(lambda _: table, text))
print("README.md configuration table updated")
(ROOT / ".env.example").write_text(env_example())
print(".env.example updated")
