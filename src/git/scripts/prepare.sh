# shellcheck shell=bash
# prepare.sh: makes $HOME/repo a clean checkout of GS_AGENT_BRANCH from origin/GS_BRANCH for a new
# lease: fetches when the clone is already of GS_URL, else clones. The lease's gateway credential
# goes into the clone's config so the agent's own plain git reaches origin. A clone the pool verified
# fresh (GS_EXPECT) that no lease has touched since it was scrubbed or cloned takes the short path:
# one config read, one rev-parse and the checkout, with the lease's settings appended to its config. GS_DEPTH and GS_FILTER
# shape a new clone; a clone already there with more history or all blobs is kept as it is, while
# one with less than the lease asks for (shallow without GS_DEPTH, partial without GS_FILTER) is
# deepened or cloned again, so a lease that asks for nothing always has the whole history.
#
# env  GS_URL          the gateway URL of the repo
# env  GS_BRANCH       the base branch
# env  GS_AGENT_BRANCH the branch the agent works on (created or reset at origin/GS_BRANCH)
# env  GS_AGENT        the agent id (commit author name)
# env  GS_AUTH         the lease's gateway credential (an Authorization header value)
# env  GS_EXPECT       optional: the commit a clone the pool verified fresh has as origin/GS_BRANCH (no fetch then)
# env  GS_DEPTH        optional: a new clone is shallow, the last GS_DEPTH commits (digits only)
# env  GS_FILTER       optional: a new clone is partial with this filter (only blob:none)
# out  __GS_HOME       $HOME
# out  __GS_FETCHED    0 when the fresh clone was used without a fetch
# out  __GS_BASE       the commit of origin/GS_BRANCH the branch starts at
# out  __GS_WORKDIR    the clone's directory
# out  __GS_FAILED     (stderr) the step that failed
# exit OK
# exit NO_BRANCH       GS_BRANCH is not on the remote
# exit CLONE           the clone or the fetch failed
# exit FAILED          another step failed
echo "__GS_HOME=$HOME"
cd "$HOME" || fail home
shape=()
case "${GS_DEPTH:-}" in "") ;; *[!0-9]*|0*) fail depth ;; *) shape+=(--depth "$GS_DEPTH") ;; esac
case "${GS_FILTER:-}" in "") ;; blob:none) shape+=("--filter=$GS_FILTER") ;; *) fail filter ;; esac
reuse=0; fresh=0; leased=""; url=""; promisor=""; base=""
if [ -d repo/.git ]; then
  # One read of the clone's own config (--local: the service's GIT_CONFIG_* settings are not the clone's): its origin,
  # its base, whether it is partial, and whether a lease's settings are there.
  while read -r k v; do
    case "$k" in
      remote.origin.url) url=$v ;;
      remote.origin.promisor) promisor=$v ;;
      git-sandbox.base) base=$v ;;
      *) leased=1 ;;
    esac
  done < <(git -C repo config --local --get-regexp '^(remote\.origin\.(url|promisor)|git-sandbox\.base|user\.(name|email)|rebase\.autostash|http\.(.*\.)?extraheader)$' 2>/dev/null)
  [ "$url" = "$GS_URL" ] && reuse=1
  # A partial clone fetches missing blobs on demand; a lease that asked for all of them gets a new clone.
  [ -z "${GS_FILTER:-}" ] && [ -n "$promisor" ] && reuse=0
fi
if [ "$reuse" = 1 ]; then
  cd repo || fail home
  # An interrupted rebase or merge is abandoned (its state files tell, so no git runs when there is none).
  if [ -e .git/rebase-merge ] || [ -e .git/rebase-apply ]; then git rebase --abort >/dev/null 2>&1; fi
  if [ -e .git/MERGE_HEAD ]; then git merge --abort >/dev/null 2>&1; fi
  deepen=()
  [ -z "${GS_DEPTH:-}" ] && [ -s .git/shallow ] && deepen=(--unshallow)
  # A clone the pool verified fresh (its origin/<base> is GS_EXPECT, seen as the tip lately) skips the fetch.
  if [ -n "${GS_EXPECT:-}" ] && [ ${#deepen[@]} = 0 ] && [ "$(git rev-parse -q --verify "refs/remotes/origin/$GS_BRANCH")" = "$GS_EXPECT" ]; then
    echo "__GS_FETCHED=0"
    fresh=1
  elif ! out="$(git fetch --quiet --prune --no-tags "${deepen[@]}" origin "+refs/heads/$GS_BRANCH:refs/remotes/origin/$GS_BRANCH" 2>&1)"; then
    echo "$out" >&2
    case "$out" in *"couldn't find remote ref"*) fail branch "$EXIT_NO_BRANCH" ;; esac
    fail fetch "$EXIT_CLONE"
  fi
else
  clone_repo "${shape[@]}"
fi
# checkout -f resets the index and the tracked files, as reset --hard would.
git checkout --quiet -f -B "$GS_AGENT_BRANCH" "origin/$GS_BRANCH" || fail checkout
# Untouched since the scrub (which verified no untracked file) or the clone: nothing to clean, and
# none of the lease's settings is there yet, so they are appended in one write (git writes them
# itself when a value has a control character).
if [ "$fresh" = 1 ] && [ -z "$leased" ] && [ "$base" = "$GS_BRANCH" ] && [ -f .git/config ] && [ ! -L .git/config ] &&
  append_config "$GS_AGENT" "$GS_AGENT@agents.git-sandbox.invalid" "Authorization: $GS_AUTH"; then
  echo "__GS_BASE=$GS_EXPECT"
else
  git clean -ffdxq
  git config user.name "$GS_AGENT" && git config user.email "$GS_AGENT@agents.git-sandbox.invalid"
  git config rebase.autoStash true && git config git-sandbox.base "$GS_BRANCH"
  git config --replace-all http.extraHeader "Authorization: $GS_AUTH"
  echo "__GS_BASE=$(git rev-parse "origin/$GS_BRANCH")"
fi
echo "__GS_WORKDIR=$PWD"
