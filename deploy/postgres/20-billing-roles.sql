-- Billing's two roles: the migration role creates and alters billing's own tables (`billing
-- migrate`), the service role only reads and writes rows. Neither owns the schema, so
-- neither can drop a table it did not create (the main application's). Run by psql as a
-- superuser with the variables billing_db, migrator_role, migrator_password, app_role,
-- app_password (deploy/postgres/init.sh in compose; tests/test_database_roles.py).
\set ON_ERROR_STOP on

CREATE ROLE :"migrator_role" LOGIN PASSWORD :'migrator_password';
CREATE ROLE :"app_role" LOGIN PASSWORD :'app_password';
CREATE DATABASE :"billing_db";
REVOKE ALL ON DATABASE :"billing_db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"billing_db" TO :"migrator_role";
GRANT CONNECT, TEMPORARY ON DATABASE :"billing_db" TO :"app_role";

\connect :"billing_db"
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO :"migrator_role";
GRANT USAGE ON SCHEMA public TO :"app_role";
-- Every table and sequence the migrations create is usable by the service role, no more.
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrator_role" IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrator_role" IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO :"app_role";
