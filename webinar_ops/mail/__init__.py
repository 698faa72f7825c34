"""The mail: its kinds, the outbox of deliveries, the templates, the writer of each message."""
