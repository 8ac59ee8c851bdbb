# shellcheck shell=bash
# fetch-base.sh: brings origin/GS_BASE of the lease's clone up to the remote's tip (after a landing
# conflicted, so the agent resolves against the tip that conflicted).
#
# env  GS_WORKDIR      the lease's clone
# env  GS_BASE         the base branch
# exit OK
# exit FAILED          the fetch failed
cd "$GS_WORKDIR" || exit "$EXIT_FAILED"
git fetch --quiet --no-tags origin "+refs/heads/$GS_BASE:refs/remotes/origin/$GS_BASE" || exit "$EXIT_FAILED"
