"""einvoice's own checks beyond the official rules (EINVOICE-* warnings): values that are present
but wrong, so the invoice validates yet cannot be routed or paid."""

from .checks import plausibility_findings

__all__ = ["plausibility_findings"]
