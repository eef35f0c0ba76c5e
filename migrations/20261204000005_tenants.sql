-- Tenants: each job belongs to the API key that submitted it; an admin key sees all.
-- Idempotency keys are scoped per API key (keyless submissions, over AMQP or with
-- auth off, share one scope).
ALTER TABLE api_keys ADD COLUMN admin boolean NOT NULL DEFAULT false;
DROP INDEX jobs_idempotency_key;
CREATE UNIQUE INDEX jobs_idempotency_key ON jobs ((COALESCE(api_key_id, 0)), idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_api_key_created_at ON jobs (api_key_id, created_at DESC, id DESC);
