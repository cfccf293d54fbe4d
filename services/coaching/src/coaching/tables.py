"""Tables owned by coaching: none of its own yet. Its database holds the outbox, with which every
service's history starts (`callqa/migrations/`); sampling plans, reviews, appeals and improvement plans
come with the coaching domain, each with its migration in `migrations/versions/`."""
