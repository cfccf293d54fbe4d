"""Tables owned by reporting: none of its own yet. Its database holds the outbox, with which every
service's history starts (`callqa/migrations/`); rollups, report runs and schedules come with the
reporting domain, each with its migration in `migrations/versions/`."""
