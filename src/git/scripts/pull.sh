# shellcheck shell=bash
# pull.sh: fetches the base and rebases the lease's branch onto origin/GS_BASE, stashing local
# changes around it; a conflict aborts the rebase and leaves the tree as it was.
#
# env  GS_WORKDIR      the lease's clone
# env  GS_BASE         the base branch
# out  __GS_BEFORE     HEAD before the rebase
# out  __GS_HEAD       HEAD after it
# out  __GS_CONFLICTS_BEGIN  then the conflicted paths, one per line
# out  __GS_CONFLICTS_END
# out  __GS_FAILED     (stderr) the step that failed
# exit OK
# exit CONFLICT        the rebase conflicted and was aborted
# exit NO_REPO         GS_WORKDIR is not there
# exit FAILED          the fetch failed
cd "$GS_WORKDIR" || fail workdir "$EXIT_NO_REPO"
git fetch --quiet --no-tags origin "+refs/heads/$GS_BASE:refs/remotes/origin/$GS_BASE" || fail fetch
before="$(git rev-parse HEAD)"
rebase_or_report --autostash "origin/$GS_BASE"
echo "__GS_BEFORE=$before"
echo "__GS_HEAD=$(git rev-parse HEAD)"
