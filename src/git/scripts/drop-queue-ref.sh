# shellcheck shell=bash
# drop-queue-ref.sh: deletes the queue ref of a withdrawn entry from the remote.
#
# env  GS_WORKDIR      the lease's clone
# env  GS_ENTRY        the entry id
# exit OK
# exit FAILED          the push failed
cd "$GS_WORKDIR" || exit "$EXIT_FAILED"
git push --quiet origin ":$QUEUE_PREFIX/$GS_ENTRY" || exit "$EXIT_FAILED"
