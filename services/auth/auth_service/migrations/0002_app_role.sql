-- The role the service logs in as: data access only, no DDL, no stored password.
-- On RDS it logs in with an IAM authentication token (member of rds_iam); the migrations keep
-- running as the migrating (master) role, which owns the tables.
-- Roles belong to the whole cluster, so every statement here also holds when auth_app already
-- exists (another database of the cluster, a restored snapshot, a second runner).

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'auth_app') THEN
        CREATE ROLE auth_app LOGIN;
    END IF;
EXCEPTION
    -- Another database of the cluster created it in between (the advisory lock is per database).
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

-- rds_iam exists on RDS only: there membership makes PostgreSQL accept IAM tokens (and only
-- them) for auth_app. Never granted to the master role, which keeps its password.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN
        GRANT rds_iam TO auth_app;
    END IF;
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO auth_app', current_database());
END
$$;

-- Before PostgreSQL 15 every role could create objects in `public`; the tables live there, so
-- take that right away (a no-op from 15 on). Only the schema's owner may; anyone else gets a
-- notice instead of a failed migration.
DO $$
BEGIN
    IF pg_has_role(
        current_user, (SELECT nspowner FROM pg_namespace WHERE nspname = 'public'), 'USAGE'
    ) THEN
        REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    ELSE
        RAISE NOTICE 'not the owner of schema public: CREATE for PUBLIC left as it is';
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO auth_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO auth_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO auth_app;
-- The migration record is read by /ready, written only by the migration runner.
REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM auth_app;

-- Tables and sequences that later migrations create (as this migrating role) get the same
-- data-access grants without each migration repeating them.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO auth_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO auth_app;
