// Bash scripts for the git workflows. Every caller-supplied value reaches the script through an
// env var (GS_*), never through string interpolation, so nothing an agent sends is parsed as shell.
import { q } from './shell.ts';

/** `case` patterns of git push output that mean the ref moved under us (retry from the fetch). */
const REJECTED_OUTPUT = '*rejected*|*"fetch first"*|*non-fast-forward*|*"stale info"*|*"cannot lock ref"*|*"failed to update ref"*|*atomic*';

/** Exit codes the scripts use for expected outcomes. */
export const EXIT = { CONFLICT: 3, REJECTED: 4, NOTHING: 5, CLONE: 6, NO_REPO: 7, NO_BRANCH: 8, FENCED: 9 } as const;

/** The `fail <what> [exit]` shell helper every script starts with. */
export const FAIL = `fail() { echo "__GS_FAILED=$1" >&2; exit "\${2:-1}"; }`;

/** After `out=$(git push … 2>&1); rc=$?`: a moved ref exits REJECTED (retry), anything else fails. */
export function classifyPush(): string {
  return `if [ $rc -ne 0 ]; then
  echo "$out" >&2
  case "$out" in *"fencing token"*) exit ${EXIT.FENCED} ;; ${REJECTED_OUTPUT}) exit ${EXIT.REJECTED} ;; esac
  fail push
fi`;
}

/** Replaces $HOME/repo with a fresh single-branch clone of GS_URL at GS_BRANCH and enters it. */
const CLONE = `rm -rf repo
if ! out="$(git clone --quiet --no-tags --single-branch --branch "$GS_BRANCH" "$GS_URL" repo 2>&1)"; then
  echo "$out" >&2
  case "$out" in *"not found in upstream"*) fail branch ${EXIT.NO_BRANCH} ;; esac
  fail clone ${EXIT.CLONE}
fi
cd repo`;

/** Rebases with `args`; on a conflict lists the conflicted paths, aborts (tree as before) and exits CONFLICT. */
function rebaseOrReport(args: string): string {
  return `if ! git rebase --quiet ${args} >/dev/null 2>&1; then
  echo "__GS_CONFLICTS_BEGIN"
  git diff --name-only --diff-filter=U
  echo "__GS_CONFLICTS_END"
  git rebase --abort >/dev/null 2>&1
  exit ${EXIT.CONFLICT}
fi`;
}

/** Prints $HOME (the pool learns each member's home once). Env: none. */
export function setupScript(): string {
  return 'echo "__GS_HOME=$HOME"';
}

/**
 * Clones GS_URL (the gateway URL of the repo) or fetches it when $HOME/repo already holds it, and
 * checks out GS_AGENT_BRANCH from origin/GS_BRANCH with a clean tree. GS_AUTH (the lease's gateway
 * credential) is written into the clone's config so the agent's own plain git reaches origin.
 * Prints __GS_HOME and __GS_WORKDIR; exits NO_BRANCH when GS_BRANCH is not on the remote.
 */
export function prepareScript(): string {
  return `${FAIL}
echo "__GS_HOME=$HOME"
cd "$HOME" || fail home
if [ -d repo/.git ] && [ "$(git -C repo config --get remote.origin.url)" = "$GS_URL" ]; then
  cd repo
  git rebase --abort >/dev/null 2>&1; git merge --abort >/dev/null 2>&1
  # A clone the pool verified fresh (its origin/<base> is GS_EXPECT, seen as the tip lately) skips the fetch.
  if [ -n "\${GS_EXPECT:-}" ] && [ "$(git rev-parse -q --verify "refs/remotes/origin/$GS_BRANCH")" = "$GS_EXPECT" ]; then
    echo "__GS_FETCHED=0"
  elif ! out="$(git fetch --quiet --prune --no-tags origin "+refs/heads/$GS_BRANCH:refs/remotes/origin/$GS_BRANCH" 2>&1)"; then
    echo "$out" >&2
    case "$out" in *"couldn't find remote ref"*) fail branch ${EXIT.NO_BRANCH} ;; esac
    fail fetch ${EXIT.CLONE}
  fi
else
  ${CLONE}
fi
git checkout --quiet -f -B "$GS_AGENT_BRANCH" "origin/$GS_BRANCH" || fail checkout
git reset --quiet --hard && git clean -ffdxq
git config user.name "$GS_AGENT" && git config user.email "$GS_AGENT@agents.git-sandbox.invalid"
git config rebase.autoStash true && git config git-sandbox.base "$GS_BRANCH"
git config --replace-all http.extraHeader "Authorization: $GS_AUTH"
echo "__GS_BASE=$(git rev-parse "origin/$GS_BRANCH")"
echo "__GS_WORKDIR=$PWD"`;
}

/** Clones GS_URL at GS_BRANCH into $HOME/repo ahead of demand (detached, so no branch lingers). */
export function precloneScript(): string {
  return `${FAIL}
cd "$HOME" || fail home
${CLONE}
git checkout --quiet --detach && git branch -D "$GS_BRANCH" >/dev/null 2>&1
git config git-sandbox.base "$GS_BRANCH"
echo "__GS_OK=1"`;
}

/** Stages (all, or the quoted paths) and commits when anything is staged. Env: GS_MSG, optional author. */
export function commitScript(paths: string[] | undefined): string {
  const add = paths?.length ? `git add -A -- ${paths.map(q).join(' ')}` : 'git add -A';
  return `${FAIL}
cd "$GS_WORKDIR" || fail workdir ${EXIT.NO_REPO}
${add} || fail add
if git diff --cached --quiet; then echo "__GS_COMMITTED=0"; else git commit --quiet -m "$GS_MSG" || fail commit; echo "__GS_COMMITTED=1"; fi
echo "__GS_HEAD=$(git rev-parse HEAD)"`;
}

/**
 * One landing attempt: fetch the target (and base), rebase onto the target's tip, push without
 * force. GS_BASE is the lease's base branch, GS_TARGET the branch pushed to; a target other than
 * the base is pushed with --force-with-lease=<target>:<oid seen by this fetch> (a compare-and-swap).
 */
export function landScript(): string {
  return `${FAIL}
cd "$GS_WORKDIR" || fail workdir ${EXIT.NO_REPO}
git fetch --quiet --no-tags origin "+refs/heads/$GS_BASE:refs/remotes/origin/$GS_BASE" || fail fetch
expected=""
if [ "$GS_TARGET" != "$GS_BASE" ]; then
  git fetch --quiet --no-tags origin "+refs/heads/$GS_TARGET:refs/remotes/origin/$GS_TARGET" >/dev/null 2>&1 || git update-ref -d "refs/remotes/origin/$GS_TARGET"
  expected="$(git rev-parse -q --verify "refs/remotes/origin/$GS_TARGET" || true)"
fi
onto="origin/$GS_TARGET"
git rev-parse -q --verify "$onto" >/dev/null || onto="origin/$GS_BASE"
if [ "$(git rev-list --count "$onto..HEAD")" = "0" ]; then echo "__GS_NOTHING=1"; exit ${EXIT.NOTHING}; fi
before="$(git rev-parse HEAD)"
${rebaseOrReport('"$onto"')}
after="$(git rev-parse HEAD)"
if [ "$GS_TARGET" = "$GS_BASE" ]; then
  out="$(git push --porcelain origin "HEAD:refs/heads/$GS_TARGET" 2>&1)"; rc=$?
else
  out="$(git push --porcelain "--force-with-lease=refs/heads/$GS_TARGET:$expected" origin "HEAD:refs/heads/$GS_TARGET" 2>&1)"; rc=$?
fi
echo "__GS_COMMIT=$after"
[ "$before" = "$after" ] && echo "__GS_REBASED=0" || echo "__GS_REBASED=1"
${classifyPush()}`;
}

/** Fetch + rebase onto origin/GS_BASE with autostash; on conflict aborts and lists the paths. */
export function pullScript(): string {
  return `${FAIL}
cd "$GS_WORKDIR" || fail workdir ${EXIT.NO_REPO}
git fetch --quiet --no-tags origin "+refs/heads/$GS_BASE:refs/remotes/origin/$GS_BASE" || fail fetch
before="$(git rev-parse HEAD)"
${rebaseOrReport('--autostash "origin/$GS_BASE"')}
echo "__GS_BEFORE=$before"
echo "__GS_HEAD=$(git rev-parse HEAD)"`;
}

/** Extracts the conflicted paths printed between the CONFLICTS markers. */
export function conflictPaths(stdout: string): string[] {
  const m = /__GS_CONFLICTS_BEGIN\n([\s\S]*?)__GS_CONFLICTS_END/.exec(stdout);
  return m ? [...new Set(m[1].split('\n').map((s) => s.trim()).filter(Boolean))] : [];
}
