# shellcheck shell=bash
# list-queue-refs.sh: lists the queue refs on the remote, as git ls-remote prints them.
#
# env  GS_WORKDIR      the lander's clone
# exit OK
# exit FAILED          ls-remote failed
cd "$GS_WORKDIR" || exit "$EXIT_FAILED"
git ls-remote origin "$QUEUE_PREFIX/*" || exit "$EXIT_FAILED"
