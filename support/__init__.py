"""support-agent: the domain, data, integrations and workflows (no Flask below ``support/web``)."""
