#!/bin/bash
# LocalStack READY hook: creates Meshline's mesh table (with the stream that drives the compile
# function), the relays' sync status and traffic tables and the access keys table (no stream,
# TTL on expiresAt), the rollouts table and the snapshot bucket,
# unless they exist. The tables restate shared/store/table.ts and shared/store/sync-status.ts
# for awslocal; test/integration/local-stack.test.ts and test/unit/deploy-template.test.ts check
# they agree.
# `npm start` / `npm test` with MESHLINE_AWS_ENDPOINT set create both too (idempotently), so
# this hook is what makes a bare `docker compose up` usable by other clients.
set -euo pipefail

# awslocal signs requests; LocalStack maps any key that is not a 12-digit account id to the
# default account 000000000000, the same account the local stack's keys land in.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

TABLE="${MESHLINE_TABLE:-meshline-local}"
# The local stack's name for it (scripts/local-stack/index.ts).
SYNC_TABLE="${MESHLINE_SYNC_TABLE:-$TABLE-sync-status}"
# The access keys (shared/auth/keys.ts): no stream, TTL on expiresAt for the rate windows.
KEYS_TABLE="${MESHLINE_KEYS_TABLE:-$TABLE-keys}"
# Rollouts (shared/store/rollouts.ts): no stream, no TTL (a rollout's history is kept).
ROLLOUT_TABLE="${MESHLINE_ROLLOUT_TABLE:-$TABLE-rollouts}"
# Traffic per edge and window (shared/store/traffic.ts): no stream, TTL on expiresAt.
TRAFFIC_TABLE="${MESHLINE_TRAFFIC_TABLE:-$TABLE-traffic}"
BUCKET="${MESHLINE_BUCKET:-meshline-local}"

if awslocal dynamodb describe-table --table-name "$TABLE" >/dev/null 2>&1; then
  echo "meshline: table $TABLE exists"
else
  awslocal dynamodb create-table \
    --table-name "$TABLE" \
    --billing-mode PAY_PER_REQUEST \
    --attribute-definitions AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=S \
    --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE \
    --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES \
    >/dev/null
  awslocal dynamodb wait table-exists --table-name "$TABLE"
  echo "meshline: created table $TABLE"
fi

if awslocal dynamodb describe-table --table-name "$SYNC_TABLE" >/dev/null 2>&1; then
  echo "meshline: table $SYNC_TABLE exists"
else
  awslocal dynamodb create-table \
    --table-name "$SYNC_TABLE" \
    --billing-mode PAY_PER_REQUEST \
    --attribute-definitions AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=S \
    --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE \
    >/dev/null
  awslocal dynamodb wait table-exists --table-name "$SYNC_TABLE"
  awslocal dynamodb update-time-to-live --table-name "$SYNC_TABLE" \
    --time-to-live-specification Enabled=true,AttributeName=expiresAt >/dev/null
  echo "meshline: created table $SYNC_TABLE"
fi

if awslocal dynamodb describe-table --table-name "$KEYS_TABLE" >/dev/null 2>&1; then
  echo "meshline: table $KEYS_TABLE exists"
else
  awslocal dynamodb create-table \
    --table-name "$KEYS_TABLE" \
    --billing-mode PAY_PER_REQUEST \
    --attribute-definitions AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=S \
    --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE \
    >/dev/null
  awslocal dynamodb wait table-exists --table-name "$KEYS_TABLE"
  awslocal dynamodb update-time-to-live --table-name "$KEYS_TABLE" \
    --time-to-live-specification Enabled=true,AttributeName=expiresAt >/dev/null
  echo "meshline: created table $KEYS_TABLE"
fi

if awslocal dynamodb describe-table --table-name "$ROLLOUT_TABLE" >/dev/null 2>&1; then
  echo "meshline: table $ROLLOUT_TABLE exists"
else
  awslocal dynamodb create-table \
    --table-name "$ROLLOUT_TABLE" \
    --billing-mode PAY_PER_REQUEST \
    --attribute-definitions AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=S \
    --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE \
    >/dev/null
  awslocal dynamodb wait table-exists --table-name "$ROLLOUT_TABLE"
  echo "meshline: created table $ROLLOUT_TABLE"
fi

if awslocal dynamodb describe-table --table-name "$TRAFFIC_TABLE" >/dev/null 2>&1; then
  echo "meshline: table $TRAFFIC_TABLE exists"
else
  awslocal dynamodb create-table \
    --table-name "$TRAFFIC_TABLE" \
    --billing-mode PAY_PER_REQUEST \
    --attribute-definitions AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=S \
    --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE \
    >/dev/null
  awslocal dynamodb wait table-exists --table-name "$TRAFFIC_TABLE"
  awslocal dynamodb update-time-to-live --table-name "$TRAFFIC_TABLE" \
    --time-to-live-specification Enabled=true,AttributeName=expiresAt >/dev/null
  echo "meshline: created table $TRAFFIC_TABLE"
fi

if awslocal s3api head-bucket --bucket "$BUCKET" >/dev/null 2>&1; then
  echo "meshline: bucket $BUCKET exists"
else
  # us-east-1 takes no LocationConstraint; other regions need one.
  if [ "$AWS_DEFAULT_REGION" = us-east-1 ]; then
    awslocal s3api create-bucket --bucket "$BUCKET" >/dev/null
  else
    awslocal s3api create-bucket --bucket "$BUCKET" \
      --create-bucket-configuration "LocationConstraint=$AWS_DEFAULT_REGION" >/dev/null
  fi
  echo "meshline: created bucket $BUCKET"
fi
