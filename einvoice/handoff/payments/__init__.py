"""payments: see einvoice/handoff/__init__.py."""
