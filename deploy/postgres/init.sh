#!/bin/sh
# First start of the database container: Temporal's role and databases, billing's migration
# and service roles, and the stand-in of the main application's tables. Passwords come from
# the env file (deploy/secrets.env); the superuser is used for nothing else.
set -eu
run() {
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres "$@"
}
run -v temporal_role=temporal -v temporal_password="$TEMPORAL_DB_PASSWORD" \
  -f /billing-sql/10-temporal.sql
run -v billing_db=billing \
  -v migrator_role=billing_migrator -v migrator_password="$BILLING_MIGRATOR_PASSWORD" \
  -v app_role=billing_app -v app_password="$BILLING_APP_PASSWORD" \
  -f /billing-sql/20-billing-roles.sql
if [ "${BILLING_STANDIN_MAIN_APP:-true}" = "true" ]; then
  run -v billing_db=billing -v owner_role=main_app -v owner_password="$MAIN_APP_DB_PASSWORD" \
    -v migrator_role=billing_migrator -v app_role=billing_app \
    -f /billing-sql/30-main-application.sql
fi
