"""callqa recorder-ingest.

Accepts recordings from telephony platforms: audio to the object store, consent, retention, legal
hold, audited access.
"""
