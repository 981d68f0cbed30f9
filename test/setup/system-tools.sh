#!/usr/bin/env bash
# Installs the system tools the test suite drives for real, where they are missing: the AWS CLI (the local
# pipeline's `aws s3 cp --recursive`), shellcheck (the buildspec's commands), jq (the buildspec's rollout), java
# (DynamoDB Local, AWS's own emulator the result-store tests run against, is a jar; Java 17 runs it), and Info-ZIP's
# zip and unzip (the archive split's tests build archives with zip and check every batch ZIP with unzip -t), and
# Chromium's headless shell (the local dashboard's browser test drives it with playwright-core; no browser download).
# Run by `npm test` before anything else and so by CI too; on a machine that has them it does nothing.
set -euo pipefail

declare -A package_for=([aws]=awscli [shellcheck]=shellcheck [jq]=jq [java]=openjdk-17-jre-headless [zip]=zip [unzip]=unzip [chromium-headless-shell]=chromium-headless-shell)
missing=()
for tool in aws shellcheck jq java zip unzip chromium-headless-shell; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${package_for[$tool]}")
done
if ! command -v terraform >/dev/null 2>&1; then
  echo "test setup: the infra tests run terraform validate/plan, and terraform is not on PATH (install Terraform 1.11+)" >&2
  exit 1
fi
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test setup: the tests need ${missing[*]}; install them with your package manager (Debian: apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "test setup: installing ${missing[*]} from Debian's packages"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null

