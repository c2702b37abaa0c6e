#!/usr/bin/env bash
# Builds the Pulumi CLI and its Go language host from the Go module proxy, at the version
# internal/project.PulumiVersion pins, into ROOT/bin (pulumi, pulumi-language-go): the layout the engine tests
# and stackctl read through APPSTACK_PULUMI_ROOT=ROOT. ROOT defaults to .tools/pulumi in the repository, where
# `make engine` and .ci/run look without the variable.
#
# Usage: tools/pulumi-cli/build.sh [ROOT]      (or: make pulumi-cli)
#
# No download from GitHub or get.pulumi.com: every module comes from the Go module proxy, except the language
# host's own three files, which the proxy does not serve and language-go/ carries (see language-go/NOTICE).
# Takes about 6 minutes and 3-4 GB of memory with an empty Go build cache on two cores, seconds when the cache is
# warm. A ROOT already holding both binaries of this version is left as it is.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
root=${1:-$repo/.tools/pulumi}
mkdir -p "$root/bin"
bin=$(cd "$root/bin" && pwd)

version=$(sed -n 's/^const PulumiVersion = "\([0-9.]*\)"$/\1/p' "$repo/internal/project/project.go")
if [ -z "$version" ]; then
  echo "build.sh: no PulumiVersion constant in internal/project/project.go" >&2
  exit 1
fi
for mod in "$here/go.mod" "$here/language-go/go.mod"; do
  if ! grep -q "github.com/pulumi/pulumi/pkg/v3 v$version\$" "$mod"; then
    echo "build.sh: ${mod#"$repo"/} does not require github.com/pulumi/pulumi/pkg/v3 v$version" \
      "(internal/project.PulumiVersion): move both together" >&2
    exit 1
  fi
done

stamp="$bin/.appstack-pulumi-version"
if [ -x "$bin/pulumi" ] && [ -x "$bin/pulumi-language-go" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
  echo "$bin: Pulumi CLI v$version and its Go language host are already built"
  exit 0
fi

ldflags="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version"
# Build beside the targets and rename, so that an interrupted build never leaves a half-written binary.
tmp=$(mktemp -d "$bin/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "building the Pulumi CLI v$version into $bin (about 6 minutes with a cold Go build cache)"
(cd "$here" && go build -buildvcs=false -ldflags "$ldflags" -o "$tmp/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
echo "building its Go language host, pulumi-language-go v$version"
(cd "$here/language-go" && go build -buildvcs=false -ldflags "$ldflags" -o "$tmp/pulumi-language-go" .)
mv -f "$tmp/pulumi" "$tmp/pulumi-language-go" "$bin/"
echo "$version" >"$stamp"
echo "$bin: $("$bin/pulumi" version), pulumi-language-go v$version"
echo "use it with: APPSTACK_PULUMI_ROOT=$(cd "$root" && pwd)"
