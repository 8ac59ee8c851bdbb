# shellcheck shell=bash
# preclone.sh: clones GS_URL at GS_BRANCH into $HOME/repo ahead of demand, detached so no branch
# lingers for the next lease.
#
# env  GS_URL          the gateway URL of the repo (read with a read-only member credential)
# env  GS_BRANCH       the base branch
# out  __GS_OK         1 when the clone is ready
# out  __GS_FAILED     (stderr) the step that failed
# exit OK
# exit NO_BRANCH       GS_BRANCH is not on the remote
# exit CLONE           the clone failed
# exit FAILED          another step failed
cd "$HOME" || fail home
# shellcheck disable=SC2119  # a whole clone: no options
clone_repo
git checkout --quiet --detach && git branch -D "$GS_BRANCH" >/dev/null 2>&1
git config git-sandbox.base "$GS_BRANCH"
echo "__GS_OK=1"
