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
exec nativecar "$@" --quiet -
