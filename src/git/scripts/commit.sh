# shellcheck shell=bash
# commit.sh: stages every change (or only GS_PATHS) and commits when anything is staged.
#
# env  GS_WORKDIR      the lease's clone
# env  GS_MSG          the commit message
# env  GS_PATHS        repo-relative paths to stage, one per line; empty stages everything
# out  __GS_COMMITTED  1 when a commit was made, 0 when nothing was staged
# out  __GS_HEAD       the commit HEAD is at
# out  __GS_FAILED     (stderr) the step that failed
# exit OK
# exit NO_REPO         GS_WORKDIR is not there
# exit FAILED          staging or committing failed
cd "$GS_WORKDIR" || fail workdir "$EXIT_NO_REPO"
if [ -n "${GS_PATHS:-}" ]; then
  mapfile -t paths <<<"$GS_PATHS"
  git add -A -- "${paths[@]}" || fail add
else
  git add -A || fail add
fi
if git diff --cached --quiet; then echo "__GS_COMMITTED=0"; else git commit --quiet -m "$GS_MSG" || fail commit; echo "__GS_COMMITTED=1"; fi
echo "__GS_HEAD=$(git rev-parse HEAD)"
