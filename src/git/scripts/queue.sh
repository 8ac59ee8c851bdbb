# shellcheck shell=bash
# queue.sh: parks HEAD on the remote as the queue ref of entry GS_ENTRY (a new, unique ref: no
# force), for the lander to land on the base.
#
# env  GS_WORKDIR      the lease's clone
# env  GS_BASE         the base branch
# env  GS_ENTRY        the entry id (<lease id>-<suffix>), which names the queue ref
# out  __GS_NOTHING    1 when the last fetched origin/GS_BASE already contains HEAD
# out  __GS_HEAD       the commit parked
# out  __GS_FAILED     (stderr) the step that failed
# exit OK
# exit NOTHING         nothing to land
# exit NO_REPO         GS_WORKDIR is not there
# exit FAILED          the push of the queue ref failed
cd "$GS_WORKDIR" || fail workdir "$EXIT_NO_REPO"
# The local origin/$GS_BASE may be behind; if it already contains HEAD so does the remote. A commit
# that reached the base some other way is dropped by the lander's rebase and reported as landed.
if [ "$(git rev-list --count "origin/$GS_BASE..HEAD")" = "0" ]; then echo "__GS_NOTHING=1"; exit "$EXIT_NOTHING"; fi
git push --quiet origin "HEAD:$QUEUE_PREFIX/$GS_ENTRY" || fail queue_push
echo "__GS_HEAD=$(git rev-parse HEAD)"
