-- Temporal's own role and databases: nothing of billing's, and no superuser.
-- Variables: temporal_role, temporal_password.
\set ON_ERROR_STOP on

CREATE ROLE :"temporal_role" LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER :"temporal_role";
CREATE DATABASE temporal_visibility OWNER :"temporal_role";
REVOKE ALL ON DATABASE temporal, temporal_visibility FROM PUBLIC;
\connect temporal
ALTER SCHEMA public OWNER TO :"temporal_role";
\connect temporal_visibility
ALTER SCHEMA public OWNER TO :"temporal_role";
