"""The web console: people sign in with a role and work in a browser — find calls, listen while reading the
transcript, review and override, acknowledge and appeal, resolve appeals, read reports, edit scorecards. It talks to
the other services only through their public APIs, with the signed-in user's identity, and keeps an index of calls
(facts, transcripts, scores) fed by the event stream for search."""
