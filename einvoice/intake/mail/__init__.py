"""Mail intake: `message` splits an e-mail into invoice candidates, `store` keeps it durably with its
ledger row, `imap` polls mailboxes, `smtpd` receives forwarded mail, `cli` has the commands."""
