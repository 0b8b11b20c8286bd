"""archive: see einvoice/handoff/__init__.py."""
