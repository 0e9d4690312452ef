#!/bin/sh
# The plugin as the end-to-end tests run it (support::plugin, Env::spawn_plugin). A dry run
# (--dry-run, =client or =server anywhere on the command line, or `pvc prune` without --yes, which is one without a
# terminal) runs as the user kubectl-stateful-dry-run, impersonated in group system:masters so
# that it may do all the test bed's admin may: tests/audit then checks in the API server's
# audit log that this user wrote nothing. A command line that names its own user (--as, --user,
# --token) is run as it is.
bin=${KUBECTL_STATEFUL_BIN:?the plugin binary}
dry= prune= yes=
for arg in "$@"; do
  case $arg in
    --dry-run | --dry-run=client | --dry-run=server) dry=1 ;;
    --as | --as=* | --user | --user=* | --token | --token=*) exec "$bin" "$@" ;;
    prune) prune=1 ;;
    --yes | -y) yes=1 ;;
  esac
done
if [ -n "$prune" ] && [ -z "$yes" ]; then
  dry=1
fi
if [ -n "$dry" ]; then
  exec "$bin" "$@" --as kubectl-stateful-dry-run --as-group system:masters
fi
exec "$bin" "$@"
