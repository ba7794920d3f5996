#!/bin/sh
# Packages the Helm 4 plugin the way `helm plugin package --sign=false` does, without Helm:
# DEST/nativecar-VERSION.tgz (DEST defaults to dist/helm of the checkout) holds one folder,
# nativecar/, with plugin.yaml at its root. Helm 4 requires that folder to be named as the archive
# is, less -VERSION.tgz, and installs it as $HELM_DATA_HOME/plugins/nativecar:
#   helm plugin install dist/helm/nativecar-VERSION.tgz --verify=false
# (--verify=false: the archive has no .prov signature). The archive is reproducible: sorted
# names, owner root, a fixed time, gzip without a timestamp. Prints the archive's path.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
dest="${1:-$here/../../dist/helm}"
version="$(sed -n 's/^version: *//p' "$here/plugin.yaml")"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/nativecar"
cp "$here/plugin.yaml" "$here/postrender.sh" "$stage/nativecar/"
chmod 755 "$stage/nativecar" "$stage/nativecar/postrender.sh"
chmod 644 "$stage/nativecar/plugin.yaml"
mkdir -p "$dest"
archive="$(cd "$dest" && pwd)/nativecar-$version.tgz"
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - nativecar | gzip -n >"$archive"
echo "$archive"
