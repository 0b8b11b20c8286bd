"""Hand-off: what leaves einvoice.

- `mail`: notices to suppliers by e-mail (receipt, rejection, duplicate, no invoice, workflow
  rejection), sent by the ``notify`` job through the configured SMTP relay.
- `bookings`: immutable booking export batches for the Kämmerei (CSV by mapping file, JSON).
- `payments`: SEPA credit transfer files (pain.001.001.09) with Skonto applied within the deadline.
- `archive`: DMS archive packages (originals unchanged, manifest) to a hot folder; verification.
- `procedure`: the GoBD Verfahrensdokumentation generated from the actual configuration.
"""
