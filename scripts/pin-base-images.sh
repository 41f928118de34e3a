#!/usr/bin/env bash
# Pins images/Dockerfile's two base images to the digests their tags point at now: run it to take a newer Node 22
# or Lambda runtime (security fixes), then build, test and commit the Dockerfile. Needs Docker with Buildx and
# access to Docker Hub and public.ecr.aws. The digest is the image index's, so one pin serves every platform.
set -euo pipefail
cd "$(dirname "$0")/.."
DOCKERFILE="${DOCKERFILE:-images/Dockerfile}"

pin() {
  local arg="$1" image="$2" digest
  digest="$(docker buildx imagetools inspect "$image" --format '{{.Manifest.Digest}}')"
  [[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "no digest for $image (got: $digest)" >&2; exit 1; }
  ARG_NAME="$arg" PINNED="$image@$digest" perl -pi -e 's/^ARG \Q$ENV{ARG_NAME}\E=.*$/ARG $ENV{ARG_NAME}=$ENV{PINNED}/' "$DOCKERFILE"
  echo "$arg=$image@$digest"
}

pin NODE_IMAGE node:22-bookworm-slim
pin LAMBDA_IMAGE public.ecr.aws/lambda/nodejs:22
