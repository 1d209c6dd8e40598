"""Officers' pages under ``/ui/``: server-rendered (Jinja2), no front-end build step."""
