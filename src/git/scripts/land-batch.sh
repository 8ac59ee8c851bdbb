# shellcheck shell=bash
# land-batch.sh: lands queued entries on the base, in the service-owned lander sandbox, each by its
# strategy: `rebase` replays the entry's commits onto the tip so far; `merge` makes a merge commit
# (--no-ff) of the entry onto the tip; `squash` makes one commit of the entry's change with its
# first commit's message and author. Every commit the landing makes or replays is re-signed with the
# entry's Git-Sandbox-Agent and Git-Sandbox-Entry trailers (authors stay, the committer is the
# service), so the first-parent history names each landed entry. An entry lands only if the landed
# change equals the entry's change (`git patch-id` of the zero-context diffs; for a merge, first
# parent to merge) and the new tip descends from the old one. One atomic push moves the base
# (compare-and-swap, no force) and deletes the consumed queue refs. The objects the landing added
# are printed as a git bundle, so the pushers' clones sync to the new tip without a fetch.
#
# env  GS_WORKDIR      the lander's clone
# env  GS_BASE         the base branch
# env  GS_FENCE        the RepoLock token: it names the scratch refs (the gateway checks it on the push)
# env  GS_ENTRIES      lines `<entry id> <agent id> [<strategy> [<agent branch>]]` in queue order; strategy rebase (default), merge or squash
# env  GS_BUNDLE_MAX   the largest __GS_BUNDLE printed, in base64 characters (default 90000)
# out  __GS_ENTRY      one line per entry: `__GS_ENTRY <id> landed <sha>|conflict|missing|failed`
# out  __GS_PATH       `__GS_PATH <id> <path>`: a conflicted path of a conflicting entry
# out  __GS_TIP        the base's tip after the push
# out  __GS_BUNDLE     base64 of a bundle of refs/git-sandbox/landed (the new tip) over a commit every
#                      landed entry's clone has (absent when nothing landed or it is over GS_BUNDLE_MAX)
# out  __GS_FAILED     (stderr) the step that failed
# out  __GS_STEPS      (stderr) milliseconds per phase: `fetch:<ms> land:<ms> push:<ms> bundle:<ms>`
# exit OK
# exit REJECTED        the base moved: retry
# exit FENCED          the lock was lost (stale fencing token)
# exit NO_REPO         GS_WORKDIR is not there
# exit FAILED          another step failed
cd "$GS_WORKDIR" || fail workdir "$EXIT_NO_REPO"
t0="$(date +%s%3N)"
export GIT_COMMITTER_NAME=git-sandbox GIT_COMMITTER_EMAIL=lander@git-sandbox.invalid
scratch="refs/git-sandbox/fetched/$GS_FENCE"
mapfile -t ids < <(printf '%s\n' "$GS_ENTRIES" | cut -d' ' -f1)
specs=("+refs/heads/$GS_BASE:refs/remotes/origin/$GS_BASE")
for id in "${ids[@]}"; do [ -n "$id" ] && specs+=("+$QUEUE_PREFIX/$id:$scratch/$id"); done
if ! git fetch --quiet --no-tags origin "${specs[@]}" 2>/dev/null; then
  # One queue ref is gone (its entry was consumed by a lander whose report was lost): fetch one by one.
  git fetch --quiet --no-tags origin "+refs/heads/$GS_BASE:refs/remotes/origin/$GS_BASE" || fail fetch
  for id in "${ids[@]}"; do
    [ -n "$id" ] || continue
    git fetch --quiet --no-tags origin "+$QUEUE_PREFIX/$id:$scratch/$id" 2>/dev/null || git update-ref -d "$scratch/$id"
  done
fi
base="$(git rev-parse "origin/$GS_BASE")"
tip="$base"
t1="$(date +%s%3N)"
wt="$(mktemp -d)"
msgf="$wt.msg"
# Run by `git rebase --exec` after each replayed commit: the message loses any Git-Sandbox-* trailer
# it carried and gains the entry's real ones (the entry id lets a later landing recognise an entry
# whose report was lost). Env: GS_ENTRY_AGENT, GS_ENTRY_ID.
amend="$wt.amend.sh"
cat > "$amend" <<'GS_AMEND'
msg="$(mktemp)" || exit 1
git log -1 --format=%B HEAD | grep -v -i -e '^Git-Sandbox-Agent:' -e '^Git-Sandbox-Entry:' | git interpret-trailers --trailer "Git-Sandbox-Agent: $GS_ENTRY_AGENT" --trailer "Git-Sandbox-Entry: $GS_ENTRY_ID" > "$msg"
git commit --quiet --amend --no-verify --allow-empty -F "$msg"; rc=$?
rm -f "$msg"; exit $rc
GS_AMEND
# The scratch worktree is made on first need: a one-commit rebase entry lands without one.
wt_ready=""
need_wt() { [ -n "$wt_ready" ] || { git worktree add --quiet --detach "$wt" "$tip" >/dev/null 2>&1 && wt_ready=1; }; }
pid() { local p; p="$(git diff -U0 --no-ext-diff --no-textconv --binary "$1" "$2" | git patch-id --stable)"; printf '%s\n' "${p%% *}"; }
# signed <agent> <entry>: stdin's message without Git-Sandbox-* trailers, plus the entry's real ones.
signed() { grep -v -i -e '^Git-Sandbox-Agent:' -e '^Git-Sandbox-Entry:' | git interpret-trailers --trailer "Git-Sandbox-Agent: $1" --trailer "Git-Sandbox-Entry: $2"; }
# Each land_* leaves the landed commit at HEAD of the worktree and returns 0, 1 on a conflict (the
# conflicted paths are in the worktree's index) or 2 when the entry cannot land. They read id,
# agent, ref, mb and tip.
# land_one: a rebase entry of one ordinary commit on its merge base is replayed without a worktree:
# a three-way merge of trees (base: the commit's parent) and a new commit on the tip, re-signed. Sets
# new; returns 1 on a conflict with the paths in `conflicted`.
land_one() {
  local out rc
  out="$(git merge-tree --write-tree --name-only --no-messages "$tip" "$ref")"; rc=$?
  # Exit 1 is a conflict: the tree's oid, then the conflicted paths.
  if [ "$rc" -eq 1 ]; then conflicted="$(printf '%s\n' "$out" | tail -n +2)"; return 1; fi
  [ "$rc" -eq 0 ] || return 2
  local an ae ad
  # An ident holds no newline, so the three fields come back one per line.
  { read -r an; read -r ae; read -r ad; } < <(git log -1 --format='%an%n%ae%n%aI' "$ref")
  git log -1 --format=%B "$ref" | signed "$agent" "$id" > "$msgf" || return 2
  new="$(GIT_AUTHOR_NAME="$an" GIT_AUTHOR_EMAIL="$ae" GIT_AUTHOR_DATE="$ad" git commit-tree "${out%%$'\n'*}" -p "$tip" -F "$msgf")" || return 2
}
land_rebase() {
  need_wt || return 2
  git -C "$wt" checkout --quiet --detach "$ref" || return 2
  GS_ENTRY_AGENT="$agent" GS_ENTRY_ID="$id" git -C "$wt" rebase --quiet --exec "sh $amend" "$tip" >/dev/null 2>&1 || return 1
}
land_merge() {
  # The entry's own commits are re-signed where they are (onto their merge base, trees unchanged),
  # then merged onto the tip with a merge commit the service authors.
  need_wt || return 2
  git -C "$wt" checkout --quiet --detach "$ref" || return 2
  GS_ENTRY_AGENT="$agent" GS_ENTRY_ID="$id" git -C "$wt" rebase --quiet --force-rebase --exec "sh $amend" "$mb" >/dev/null 2>&1 || return 1
  local resigned
  resigned="$(git -C "$wt" rev-parse HEAD)"
  [ "$(git rev-parse "$resigned^{tree}")" = "$(git rev-parse "$ref^{tree}")" ] || return 2
  git -C "$wt" checkout --quiet --detach "$tip" || return 2
  printf 'Merge %s\n' "${branch:-$id}" | signed "$agent" "$id" > "$msgf"
  GIT_AUTHOR_NAME="$GIT_COMMITTER_NAME" GIT_AUTHOR_EMAIL="$GIT_COMMITTER_EMAIL" git -C "$wt" merge --quiet --no-ff --no-verify -F "$msgf" "$resigned" >/dev/null 2>&1 || return 1
  if [ "$(git -C "$wt" rev-parse HEAD^1)" != "$tip" ] || [ "$(git -C "$wt" rev-parse HEAD^2)" != "$resigned" ]; then return 2; fi
}
land_squash() {
  need_wt || return 2
  git -C "$wt" checkout --quiet --detach "$tip" || return 2
  git -C "$wt" merge --quiet --squash "$ref" >/dev/null 2>&1 || return 1
  local first n
  first="$(git rev-list --reverse --no-merges "$mb..$ref" | head -n 1)"
  [ -n "$first" ] || return 2
  n="$(git rev-list --count --no-merges "$mb..$ref")"
  # The first commit's message; more commits are listed under it by subject, as a squash merge does.
  { git log -1 --format=%B "$first"; [ "$n" -gt 1 ] && { printf '\nSquashed %s commits:\n' "$n"; git log --reverse --no-merges --format='* %s' "$mb..$ref"; }; } | signed "$agent" "$id" > "$msgf"
  GIT_AUTHOR_NAME="$(git log -1 --format=%an "$first")" GIT_AUTHOR_EMAIL="$(git log -1 --format=%ae "$first")" GIT_AUTHOR_DATE="$(git log -1 --format=%aI "$first")" \
    git -C "$wt" commit --quiet --no-verify -F "$msgf" >/dev/null 2>&1 || return 2
  [ "$(git -C "$wt" rev-parse HEAD^)" = "$tip" ] || return 2
}
dels=()
# The queue refs of the entries that landed: each pusher's clone has its own and all its ancestors.
haves=()
while read -r id agent strategy branch <&3; do
  [ -n "$id" ] || continue
  ref="$scratch/$id"
  if ! oid="$(git rev-parse -q --verify "$ref")"; then
    # No queue ref: an earlier landing consumed it and its report was lost; find it on the base's
    # first-parent history, where every strategy leaves the entry's trailer (a merge on its merge commit).
    found="$(git log --first-parent -n 2000 --format='%H %(trailers:key=Git-Sandbox-Entry,valueonly,separator=%x20)' "origin/$GS_BASE" | awk -v id="$id" '$2 == id { print $1; exit }')"
    if [ -n "$found" ]; then echo "__GS_ENTRY $id landed $found"; else echo "__GS_ENTRY $id missing"; fi
    continue
  fi
  dels+=(":$QUEUE_PREFIX/$id")
  if git merge-base --is-ancestor "$ref" "$tip"; then echo "__GS_ENTRY $id landed $tip"; haves+=("$ref"); continue; fi
  # An entry with no history in common with the base (an orphan, a graft) never lands.
  mb="$(git merge-base "$tip" "$ref")" || { echo "__GS_ENTRY $id failed"; continue; }
  want="$(pid "$mb" "$ref")"
  new=""; conflicted=""; plumbing=""
  case "${strategy:-rebase}" in
    merge) land_merge; rc=$? ;;
    squash) land_squash; rc=$? ;;
    *)
      # One ordinary commit whose parent is the merge base (`<ref> <parent>` and nothing more).
      if [ "$(git rev-list --parents -n 1 "$ref")" = "$oid $mb" ]; then
        plumbing=1; land_one; rc=$?
      else
        land_rebase; rc=$?
      fi ;;
  esac
  if [ "$rc" -eq 0 ]; then
    [ -n "$new" ] || new="$(git -C "$wt" rev-parse HEAD)"
    # (A plumbing commit has the tip as its only parent, so it descends from it by construction.)
    if [ "$(pid "$tip" "$new")" = "$want" ] && { [ -n "$plumbing" ] || git merge-base --is-ancestor "$tip" "$new"; }; then
      tip="$new"
      haves+=("$ref")
      echo "__GS_ENTRY $id landed $tip"
    else
      echo "__GS_ENTRY $id failed"
    fi
  elif [ "$rc" -eq 1 ]; then
    { if [ -n "$plumbing" ]; then printf '%s\n' "$conflicted"; else git -C "$wt" diff --name-only --diff-filter=U; fi; } | while IFS= read -r p; do [ -z "$p" ] || echo "__GS_PATH $id $p"; done
    echo "__GS_ENTRY $id conflict"
  else
    echo "__GS_ENTRY $id failed"
  fi
  # Whatever the outcome, the worktree is left with no rebase or merge in progress.
  [ -n "$plumbing" ] || { git -C "$wt" rebase --abort >/dev/null 2>&1; git -C "$wt" merge --abort >/dev/null 2>&1; git -C "$wt" reset --quiet --hard >/dev/null 2>&1; }
done 3<<<"$GS_ENTRIES"
t2="$(date +%s%3N)"
upd=()
[ "$tip" != "$base" ] && upd=("$tip:refs/heads/$GS_BASE")
rc=0; out=""
if [ "$(( ${#upd[@]} + ${#dels[@]} ))" -gt 0 ]; then out="$(git push --porcelain --atomic origin "${upd[@]}" "${dels[@]}" 2>&1)"; rc=$?; fi
[ -z "$wt_ready" ] || git worktree remove --force "$wt" >/dev/null 2>&1
rm -rf "$wt" "$amend" "$msgf"
t3="$(date +%s%3N)"
bundle=""
if [ "$rc" -eq 0 ] && [ "$tip" != "$base" ] && [ "${#haves[@]}" -gt 0 ]; then
  # Over a common ancestor of the old tip and every landed entry: a commit each pusher's clone has.
  if floor="$(git merge-base --octopus "$base" "${haves[@]}")"; then
    git update-ref refs/git-sandbox/landed "$tip"
    bundle="$(git bundle create - refs/git-sandbox/landed "^$floor" 2>/dev/null | base64 -w0)"
    [ "${#bundle}" -le "${GS_BUNDLE_MAX:-90000}" ] || bundle=""
  fi
fi
git for-each-ref --format='delete %(refname)' "$scratch" | git update-ref --stdin
echo "__GS_STEPS=fetch:$((t1 - t0)) land:$((t2 - t1)) push:$((t3 - t2)) bundle:$(($(date +%s%3N) - t3))" >&2
classify_push "$rc" "$out"
echo "__GS_TIP=$tip"
[ -z "$bundle" ] || echo "__GS_BUNDLE=$bundle"
