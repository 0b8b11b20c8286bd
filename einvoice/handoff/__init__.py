"""Hand-off: what leaves einvoice. `mail`: notices to suppliers by e-mail (receipt, rejection,
duplicate, no invoice), sent by the ``notify`` job through the configured SMTP relay."""
