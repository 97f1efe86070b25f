#!/usr/bin/env bash
# test_sup_db's cases on a private PostgreSQL server (KS_PG_URL): the
# PostgreSQL backend keeps the storage interface's promises (sup_db.h).
source "$(dirname "$0")/e2e/lib.sh"
source "$(dirname "$0")/e2e/pg_lib.sh"
pg_start
KS_PG_URL="$PG_URL" "${KS_TESTS:?}/test_sup_db" || fail "test_sup_db on PostgreSQL"
ok "test_sup_db on PostgreSQL"
