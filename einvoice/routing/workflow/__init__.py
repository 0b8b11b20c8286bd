"""workflow: see einvoice/routing/__init__.py."""
