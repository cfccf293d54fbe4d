-- One database per service: each service owns its data and migrates its own schema.
-- The postgres image runs this once, on an empty data directory, as POSTGRES_USER (who then owns them).
-- Names match the last path segment of each service's CALLQA_<P>_DATABASE_URL in docker-compose.yml.
CREATE DATABASE recorder_ingest;
CREATE DATABASE transcriber;
CREATE DATABASE scorer;
CREATE DATABASE coaching;
CREATE DATABASE reporting;
CREATE DATABASE console;
