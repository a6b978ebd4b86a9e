-- Stand-in for the main application's own migrations: the two tables it owns, with the
-- columns DESIGN.md names. In a real deployment the main application creates them (billing
-- never does in production) and grants what follows to billing's roles.
-- Variables: billing_db, owner_role, owner_password, migrator_role, app_role.
\set ON_ERROR_STOP on

CREATE ROLE :"owner_role" LOGIN PASSWORD :'owner_password';
GRANT CONNECT ON DATABASE :"billing_db" TO :"owner_role";
\connect :"billing_db"
GRANT CREATE ON SCHEMA public TO :"owner_role";
SET ROLE :"owner_role";
CREATE TABLE workspaces (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL DEFAULT '',
    plan text NOT NULL DEFAULT 'free',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE workspace_members (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id uuid NOT NULL,
    role text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    PRIMARY KEY (workspace_id, user_id)
);
-- Billing reads both, writes only workspaces.plan, and references workspaces.id.
GRANT SELECT ON workspaces, workspace_members TO :"app_role";
GRANT UPDATE (plan) ON workspaces TO :"app_role";
GRANT SELECT, REFERENCES ON workspaces TO :"migrator_role";
GRANT SELECT ON workspace_members TO :"migrator_role";
RESET ROLE;
