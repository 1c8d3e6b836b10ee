#!/usr/bin/env bash
# Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d): one role and one database
# for Airflow's metadata, another for the lianban ledger (台账), and a third, owned by lianban, that stands in for
# HRSS's 前置库 in a trial run only. Passwords come from the environment (docker/.env), never from this file.
set -euo pipefail

: "${AIRFLOW_DB_PASSWORD:?set AIRFLOW_DB_PASSWORD in docker/.env}"
: "${LIANBAN_DB_PASSWORD:?set LIANBAN_DB_PASSWORD in docker/.env}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v airflow_password="$AIRFLOW_DB_PASSWORD" -v lianban_password="$LIANBAN_DB_PASSWORD" <<'SQL'
CREATE ROLE airflow LOGIN PASSWORD :'airflow_password';
CREATE DATABASE airflow OWNER airflow;
CREATE ROLE lianban LOGIN PASSWORD :'lianban_password';
CREATE DATABASE lianban_ledger OWNER lianban;
CREATE DATABASE hrss_frontend_trial OWNER lianban;
REVOKE ALL ON DATABASE airflow FROM PUBLIC;
REVOKE ALL ON DATABASE lianban_ledger FROM PUBLIC;
REVOKE ALL ON DATABASE hrss_frontend_trial FROM PUBLIC;
SQL
