"""callqa shared library: event contracts, bus, outbox, storage, database, settings, auth, observability."""
