#!/usr/bin/env bash
# Seeds the bucket's links file: puts LINKS_FILE (default: the repository's link.yml) at
# s3://BUCKET/config/link.yml, unless an object is already there. Once seeded, the bucket's copy is the one people
# edit to add a source without a rebuild (docs/deploy.md), so a later release must never overwrite it. The write is
# conditional (If-None-Match: *), so S3 itself refuses it when the object exists; no read-then-write race.
#
# Usage: scripts/seed-links-file.sh BUCKET [LINKS_FILE]   (region and credentials as for any aws command)
set -euo pipefail
bucket="${1:?usage: scripts/seed-links-file.sh BUCKET [LINKS_FILE]}"
file="${2:-link.yml}"
errors="$(mktemp)"
trap 'rm -f "$errors"' EXIT
if aws s3api put-object --bucket "$bucket" --key config/link.yml --body "$file" \
  --content-type "application/yaml; charset=utf-8" --if-none-match '*' >/dev/null 2>"$errors"; then
  echo "seeded s3://$bucket/config/link.yml from $file"
elif grep -q PreconditionFailed "$errors"; then
  echo "s3://$bucket/config/link.yml exists: left as it is"
else
  cat "$errors" >&2
  exit 1
fi
