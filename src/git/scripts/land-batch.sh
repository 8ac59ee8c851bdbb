# shellcheck shell=bash
# land-batch.sh: lands queued entries on the base, in the service-owned lander sandbox. Each entry
# is fetched from its queue ref and rebased onto the tip so far, every commit re-signed with the
# entry's Git-Sandbox-Agent and Git-Sandbox-Entry trailers (the author stays, the committer is the
# service); it lands only if the landed change equals the entry's change (`git patch-id` of the
# zero-context diffs) and the new tip descends from the old one. One atomic push moves the base
# (compare-and-swap, no force) and deletes the consumed queue refs.
#
# env  GS_WORKDIR      the lander's clone
# env  GS_BASE         the base branch
# env  GS_FENCE        the RepoLock token: it names the scratch refs (the gateway checks it on the push)
# env  GS_ENTRIES      lines `<entry id> <agent id>`, in queue order
# out  __GS_ENTRY      one line per entry: `__GS_ENTRY <id> landed <sha>|conflict|missing|failed`
# out  __GS_PATH       `__GS_PATH <id> <path>`: a conflicted path of a conflicting entry
# out  __GS_TIP        the base's tip after the push
# out  __GS_FAILED     (stderr) the step that failed
# exit OK
# exit REJECTED        the base moved: retry
# exit FENCED          the lock was lost (stale fencing token)
# exit NO_REPO         GS_WORKDIR is not there
# exit FAILED          another step failed
cd "$GS_WORKDIR" || fail workdir "$EXIT_NO_REPO"
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
wt="$(mktemp -d)"
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
git worktree add --quiet --detach "$wt" "$tip" || fail worktree
pid() { git diff -U0 --no-ext-diff --no-textconv --binary "$1" "$2" | git patch-id --stable | cut -d' ' -f1; }
dels=()
while read -r id agent <&3; do
  [ -n "$id" ] || continue
  ref="$scratch/$id"
  if ! git rev-parse -q --verify "$ref" >/dev/null; then
    # No queue ref: an earlier landing consumed it and its report was lost; find it on the base.
    found="$(git log -n 2000 --format='%H %(trailers:key=Git-Sandbox-Entry,valueonly,separator=%x20)' "origin/$GS_BASE" | awk -v id="$id" '$2 == id { print $1; exit }')"
    if [ -n "$found" ]; then echo "__GS_ENTRY $id landed $found"; else echo "__GS_ENTRY $id missing"; fi
    continue
  fi
  dels+=(":$QUEUE_PREFIX/$id")
  if git merge-base --is-ancestor "$ref" "$tip"; then echo "__GS_ENTRY $id landed $tip"; continue; fi
  # An entry with no history in common with the base (an orphan, a graft) never lands.
  mb="$(git merge-base "$tip" "$ref")" || { echo "__GS_ENTRY $id failed"; continue; }
  want="$(pid "$mb" "$ref")"
  git -C "$wt" checkout --quiet --detach "$ref" || { echo "__GS_ENTRY $id failed"; continue; }
  if GS_ENTRY_AGENT="$agent" GS_ENTRY_ID="$id" git -C "$wt" rebase --quiet --exec "sh $amend" "$tip" >/dev/null 2>&1; then
    new="$(git -C "$wt" rev-parse HEAD)"
    if [ "$(pid "$tip" "$new")" = "$want" ] && git merge-base --is-ancestor "$tip" "$new"; then
      tip="$new"
      echo "__GS_ENTRY $id landed $tip"
    else
      echo "__GS_ENTRY $id failed"
    fi
  else
    git -C "$wt" diff --name-only --diff-filter=U | while IFS= read -r p; do echo "__GS_PATH $id $p"; done
    git -C "$wt" rebase --abort >/dev/null 2>&1
    echo "__GS_ENTRY $id conflict"
  fi
done 3<<<"$GS_ENTRIES"
upd=()
[ "$tip" != "$base" ] && upd=("$tip:refs/heads/$GS_BASE")
rc=0; out=""
if [ "$(( ${#upd[@]} + ${#dels[@]} ))" -gt 0 ]; then out="$(git push --porcelain --atomic origin "${upd[@]}" "${dels[@]}" 2>&1)"; rc=$?; fi
git worktree remove --force "$wt" >/dev/null 2>&1; rm -rf "$wt" "$amend"
git for-each-ref --format='delete %(refname)' "$scratch" | git update-ref --stdin
classify_push "$rc" "$out"
echo "__GS_TIP=$tip"
