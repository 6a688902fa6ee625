"""``python -m support.config`` prints the README's configuration table."""

from support.config.docs import markdown_table

print(markdown_table())
