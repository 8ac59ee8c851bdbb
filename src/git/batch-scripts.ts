// Scripts of batched landing on the base branch: each pusher parks its commits on a private queue
// ref; the lock holder lands every queued entry in one fetch, a rebase each, and one atomic push.
import { EXIT, FAIL, classifyPush } from './scripts.ts';
import { q } from './shell.ts';

import { QUEUE_PREFIX } from '../gateway/ref-rules.ts';

export { QUEUE_PREFIX };

/**
 * Parks HEAD on the remote as refs/git-sandbox/queue/$GS_ENTRY (a new, unique ref: no force).
 * Exits NOTHING when the last fetched origin/$GS_BASE already contains HEAD. Prints __GS_HEAD.
 */
export function queueScript(): string {
  return `${FAIL}
cd "$GS_WORKDIR" || fail workdir ${EXIT.NO_REPO}
# The local origin/$GS_BASE may be behind; if it already contains HEAD so does the remote. A commit
# that reached the base some other way is dropped by the lander's rebase and reported as landed.
if [ "$(git rev-list --count "origin/$GS_BASE..HEAD")" = "0" ]; then echo "__GS_NOTHING=1"; exit ${EXIT.NOTHING}; fi
git push --quiet origin "HEAD:${QUEUE_PREFIX}/$GS_ENTRY" || fail queue_push
echo "__GS_HEAD=$(git rev-parse HEAD)"`;
}

/**
 * Run by `git rebase --exec` after each replayed commit of an entry: the message loses any
 * Git-Sandbox-* trailer it carried and gains the entry's real ones (agent, and entry id, by which a
 * later landing recognises an entry whose report was lost); the author stays, the committer is the
 * service (GIT_COMMITTER_* in the env). Env: GS_ENTRY_AGENT, GS_ENTRY_ID.
 */
const AMEND_SCRIPT = `msg="$(mktemp)" || exit 1
git log -1 --format=%B HEAD | grep -v -i -e '^Git-Sandbox-Agent:' -e '^Git-Sandbox-Entry:' | git interpret-trailers --trailer "Git-Sandbox-Agent: $GS_ENTRY_AGENT" --trailer "Git-Sandbox-Entry: $GS_ENTRY_ID" > "$msg"
git commit --quiet --amend --no-verify --allow-empty -F "$msg"; rc=$?
rm -f "$msg"; exit $rc`;

/**
 * Lands queued entries in the service-owned lander sandbox. Inputs: GS_WORKDIR, GS_BASE, GS_FENCE
 * (the RepoLock token: it names the scratch refs and the gateway checks it on the push) and
 * GS_ENTRIES (lines `<entry id> <agent id>`, in queue order). Each entry is fetched from its queue
 * ref and rebased onto the tip so far, each commit re-signed with the entry's Git-Sandbox-Agent
 * trailer; it lands only if the landed change equals the entry's change (`git patch-id` of the
 * zero-context diffs). One atomic push moves the base (compare-and-swap, no force) and deletes the
 * consumed queue refs. Prints `__GS_ENTRY <id> landed <sha>`, `… conflict` (with `__GS_PATH <id>
 * <path>` lines), `… missing` or `… failed`. Exits 0, REJECTED (the base moved), FENCED (the lock
 * was lost) or 1.
 */
export function landBatchScript(): string {
  return `${FAIL}
cd "$GS_WORKDIR" || fail workdir ${EXIT.NO_REPO}
export GIT_COMMITTER_NAME=git-sandbox GIT_COMMITTER_EMAIL=lander@git-sandbox.invalid
scratch="refs/git-sandbox/fetched/$GS_FENCE"
ids="$(printf '%s\n' "$GS_ENTRIES" | cut -d' ' -f1)"
specs="+refs/heads/$GS_BASE:refs/remotes/origin/$GS_BASE"
for id in $ids; do specs="$specs +${QUEUE_PREFIX}/$id:$scratch/$id"; done
if ! git fetch --quiet --no-tags origin $specs 2>/dev/null; then
  # One queue ref is gone (its entry was consumed by a lander whose report was lost): fetch one by one.
  git fetch --quiet --no-tags origin "+refs/heads/$GS_BASE:refs/remotes/origin/$GS_BASE" || fail fetch
  for id in $ids; do git fetch --quiet --no-tags origin "+${QUEUE_PREFIX}/$id:$scratch/$id" 2>/dev/null || git update-ref -d "$scratch/$id"; done
fi
base="$(git rev-parse "origin/$GS_BASE")"
tip="$base"
wt="$(mktemp -d)"
amend="$wt.amend.sh"
printf '%s\n' ${q(AMEND_SCRIPT)} > "$amend"
git worktree add --quiet --detach "$wt" "$tip" || fail worktree
pid() { git diff -U0 --no-ext-diff --no-textconv --binary "$1" "$2" | git patch-id --stable | cut -d' ' -f1; }
dels=""
while read -r id agent <&3; do
  [ -n "$id" ] || continue
  ref="$scratch/$id"
  if ! git rev-parse -q --verify "$ref" >/dev/null; then
    # No queue ref: an earlier landing consumed it and its report was lost; find it on the base.
    found="$(git log -n 2000 --format='%H %(trailers:key=Git-Sandbox-Entry,valueonly,separator=%x20)' "origin/$GS_BASE" | awk -v id="$id" '$2 == id { print $1; exit }')"
    if [ -n "$found" ]; then echo "__GS_ENTRY $id landed $found"; else echo "__GS_ENTRY $id missing"; fi
    continue
  fi
  dels="$dels :${QUEUE_PREFIX}/$id"
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
done 3<<GS_EOF
$GS_ENTRIES
GS_EOF
upd=""
[ "$tip" != "$base" ] && upd="$tip:refs/heads/$GS_BASE"
rc=0
[ -n "$upd$dels" ] && { out="$(git push --porcelain --atomic origin $upd $dels 2>&1)"; rc=$?; }
git worktree remove --force "$wt" >/dev/null 2>&1; rm -rf "$wt" "$amend"
git for-each-ref --format='delete %(refname)' "$scratch" | git update-ref --stdin
${classifyPush()}
echo "__GS_TIP=$tip"`;
}

/** Moves the lease's branch to the landed commit (keeping uncommitted files) once it is on the base. */
export function syncLandedScript(): string {
  // The lander already has the objects (its scratch worktree made them); others fetch them.
  // The remote-tracking ref moves at least to the landed commit, so status shows nothing ahead.
  return `cd "$GS_WORKDIR" || exit 1
git cat-file -e "$GS_COMMIT^{commit}" 2>/dev/null || git fetch --quiet --no-tags origin "+refs/heads/$GS_BASE:refs/remotes/origin/$GS_BASE" || exit 1
git merge-base --is-ancestor "$GS_COMMIT" "refs/remotes/origin/$GS_BASE" 2>/dev/null || git update-ref "refs/remotes/origin/$GS_BASE" "$GS_COMMIT"
[ "$(git rev-parse HEAD)" = "$GS_COMMIT" ] || git reset --quiet --keep "$GS_COMMIT"`;
}

/** One entry's outcome parsed from landBatchScript's output. */
export interface BatchOutcome {
  status: 'landed' | 'conflict' | 'missing' | 'failed';
  commit?: string;
  conflicts: string[];
}

/** Parses landBatchScript's per-entry lines. */
export function parseBatchOutput(stdout: string): Map<string, BatchOutcome> {
  const out = new Map<string, BatchOutcome>();
  const paths = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const p = /^__GS_PATH (\S+) (.+)$/.exec(line);
    if (p) paths.set(p[1], [...(paths.get(p[1]) ?? []), p[2]]);
    const e = /^__GS_ENTRY (\S+) (landed|conflict|missing|failed)(?: ([0-9a-f]{40}))?$/.exec(line);
    if (e) out.set(e[1], { status: e[2] as BatchOutcome['status'], commit: e[3], conflicts: [] });
  }
  for (const [id, o] of out) o.conflicts = [...new Set(paths.get(id) ?? [])];
  return out;
}
