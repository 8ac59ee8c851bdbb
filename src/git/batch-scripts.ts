// Scripts of batched landing on the base branch: each pusher parks its commits on a private queue
// ref; the lock holder lands every queued entry in one fetch, a rebase each, and one atomic push.
import { EXIT, FAIL, classifyPush } from './scripts.ts';

/** Prefix of the private refs that hold queued entries on the remote. */
export const QUEUE_PREFIX = 'refs/git-sandbox/queue';

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
 * Lands the entries named in $GS_IDS (in order) onto origin/$GS_BASE in a scratch worktree: each
 * entry is rebased onto the tip so far; a conflicting entry is skipped and reported. One atomic
 * push moves the base (compare-and-swap, no force) and deletes the queue refs it consumed.
 * Prints `__GS_ENTRY <id> landed <sha>`, `… conflict` (with `__GS_PATH <id> <path>` lines) or `… missing`.
 */
export function landBatchScript(): string {
  return `${FAIL}
cd "$GS_WORKDIR" || fail workdir ${EXIT.NO_REPO}
specs="+refs/heads/$GS_BASE:refs/remotes/origin/$GS_BASE"
for id in $GS_IDS; do specs="$specs +${QUEUE_PREFIX}/$id:refs/git-sandbox/fetched/$id"; done
if ! git fetch --quiet --no-tags origin $specs 2>/dev/null; then
  # One queue ref is gone (its entry was consumed by a lander whose report was lost): fetch one by one.
  git fetch --quiet --no-tags origin "+refs/heads/$GS_BASE:refs/remotes/origin/$GS_BASE" || fail fetch
  for id in $GS_IDS; do git fetch --quiet --no-tags origin "+${QUEUE_PREFIX}/$id:refs/git-sandbox/fetched/$id" 2>/dev/null || git update-ref -d "refs/git-sandbox/fetched/$id"; done
fi
base="$(git rev-parse "origin/$GS_BASE")"
tip="$base"
wt="$(mktemp -d)"
git worktree add --quiet --detach "$wt" "$tip" || fail worktree
dels=""
for id in $GS_IDS; do
  git rev-parse -q --verify "refs/git-sandbox/fetched/$id" >/dev/null && dels="$dels :${QUEUE_PREFIX}/$id"
  git rev-parse -q --verify "refs/git-sandbox/fetched/$id" >/dev/null || { echo "__GS_ENTRY $id missing"; continue; }
  git -C "$wt" checkout --quiet --detach "refs/git-sandbox/fetched/$id" || { echo "__GS_ENTRY $id missing"; continue; }
  if git -C "$wt" rebase --quiet "$tip" >/dev/null 2>&1; then
    tip="$(git -C "$wt" rev-parse HEAD)"
    echo "__GS_ENTRY $id landed $tip"
  else
    git -C "$wt" diff --name-only --diff-filter=U | while IFS= read -r p; do echo "__GS_PATH $id $p"; done
    git -C "$wt" rebase --abort >/dev/null 2>&1
    echo "__GS_ENTRY $id conflict"
  fi
done
upd=""
[ "$tip" != "$base" ] && upd="$tip:refs/heads/$GS_BASE"
rc=0
[ -n "$upd$dels" ] && { out="$(git push --porcelain --atomic origin $upd $dels 2>&1)"; rc=$?; }
git worktree remove --force "$wt" >/dev/null 2>&1; rm -rf "$wt"
for id in $GS_IDS; do git update-ref -d "refs/git-sandbox/fetched/$id" 2>/dev/null; done
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
  status: 'landed' | 'conflict' | 'missing';
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
    const e = /^__GS_ENTRY (\S+) (landed|conflict|missing)(?: ([0-9a-f]{40}))?$/.exec(line);
    if (e) out.set(e[1], { status: e[2] as BatchOutcome['status'], commit: e[3], conflicts: [] });
  }
  for (const [id, o] of out) o.conflicts = [...new Set(paths.get(id) ?? [])];
  return out;
}
