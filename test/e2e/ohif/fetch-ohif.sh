#!/usr/bin/env bash
# Unpacks the built OHIF Viewer (dist/ of the npm package @ohif/app) under .data/ohif/<version> for
# test/e2e/ohif.e2e.test.ts. Not a devDependency: `npm install @ohif/app@3.13.2` fails (ETARGET: its
# dependency @ohif/i18n@3.13.2 is not on the registry; @ohif/i18n stops at 0.53.0), and the test needs
# only the prebuilt dist, not the ~40 source packages behind it. The tarball is fetched with `npm pack`
# (the registry, no other source), its sha512 checked against the pin below, and kept between runs.
set -euo pipefail
VERSION=3.13.2
INTEGRITY='sha512-WZdxmpmG7rqFgW9ZJLcbgr3XCtLi1KDNPoMaeY5PPe6j4G4fjEjjkycZM6C6Zk2F87BKxFfpq+jd5xXZB9E8EA=='
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
DEST="$ROOT/.data/ohif/$VERSION"
[ -f "$DEST/package/dist/index.html" ] && exit 0
mkdir -p "$DEST"
tmp=$(mktemp -d "$DEST/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@ohif/app@$VERSION" >/dev/null)
tarball="$tmp/ohif-app-$VERSION.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
[ "$actual" = "$INTEGRITY" ] || { echo "fetch-ohif: @ohif/app@$VERSION checksum mismatch" >&2; exit 1; }
tar -xzf "$tarball" -C "$tmp" package/dist package/package.json package/LICENSE
rm -rf "$DEST/package" && mv "$tmp/package" "$DEST/package"
echo "fetch-ohif: OHIF $VERSION dist in .data/ohif/$VERSION/package/dist"
