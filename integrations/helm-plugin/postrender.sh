#!/bin/sh
# Helm post-renderer: the rendered manifests come on stdin and go back on stdout, rewritten.
# The arguments are Helm's --post-renderer-args, one argument per flag: a command and its
# options. Without any, or with options alone (--post-renderer-args=--kube-version=1.30), the
# command is `migrate`: the subcommand has to come first on nativecar's command line.
# A failure exits non-zero with nothing on stdout, so Helm stops instead of applying half a release.
set -eu
case "${1-}" in
  "" | -*) set -- migrate "$@" ;;
esac
# Helm 4 refuses a post-renderer's empty output ("produced empty output") even when the chart
# rendered nothing (every resource switched off): an empty stream goes back as a bare `---`.
output=$(mktemp)
trap 'rm -f "$output"' EXIT
nativecar "$@" --quiet - >"$output"
if [ -s "$output" ]; then cat "$output"; else printf -- '---\n'; fi
