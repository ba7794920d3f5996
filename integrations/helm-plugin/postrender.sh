#!/bin/sh
# Helm post-renderer: the rendered manifests come on stdin and go back on stdout, rewritten.
# Arguments (Helm's --post-renderer-args) choose the command; without any, `migrate`.
# A failure exits non-zero with nothing on stdout, so Helm stops instead of applying half a release.
set -eu
if [ "$#" -eq 0 ]; then
  set -- migrate
fi
exec nativecar "$@" --quiet -
