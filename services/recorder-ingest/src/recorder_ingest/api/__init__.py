"""HTTP routes of recorder-ingest."""
