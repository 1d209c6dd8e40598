"""FastAPI service: ranked revisit lists with reasons, scoped tokens and an audit log."""
