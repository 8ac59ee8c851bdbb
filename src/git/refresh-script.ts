// The fetch that keeps an idle pool member's clone at the tip between leases.

/**
 * Fetches origin/GS_BRANCH into $HOME/repo (run with the hardened service git env and a read-only
 * member credential). Output: __GS_BASE=<commit of origin/GS_BRANCH>. Exit: 0, or 1 on any failure.
 */
export function refreshScript(): string {
  return `cd "$HOME/repo" || exit 1
git fetch --quiet --no-tags origin "+refs/heads/$GS_BRANCH:refs/remotes/origin/$GS_BRANCH" || exit 1
echo "__GS_BASE=$(git rev-parse "refs/remotes/origin/$GS_BRANCH")"`;
}
