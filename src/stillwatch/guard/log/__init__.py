"""The log: its schema, the malformed-row rules, and reading it from files, tables or a ledger."""
