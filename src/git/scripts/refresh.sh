# shellcheck shell=bash
# refresh.sh: keeps an idle pool member's clone at the tip between leases (run with the hardened
# service git env and a read-only member credential).
#
# env  GS_BRANCH       the base branch
# out  __GS_BASE       the commit of origin/GS_BRANCH after the fetch
# exit OK
# exit FAILED          the clone is missing or the fetch failed
cd "$HOME/repo" || exit "$EXIT_FAILED"
git fetch --quiet --no-tags origin "+refs/heads/$GS_BRANCH:refs/remotes/origin/$GS_BRANCH" || exit "$EXIT_FAILED"
echo "__GS_BASE=$(git rev-parse "refs/remotes/origin/$GS_BRANCH")"
