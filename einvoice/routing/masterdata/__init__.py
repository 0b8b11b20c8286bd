"""masterdata: see einvoice/routing/__init__.py."""
