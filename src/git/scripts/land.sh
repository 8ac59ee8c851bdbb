# shellcheck shell=bash
# land.sh: one landing attempt on a branch with one writer (the agent branch): fetch the target
# (and the base), rebase onto the target's tip, push without force. A target other than the base
# is pushed with --force-with-lease=<target>:<oid this fetch saw>, a compare-and-swap.
#
# env  GS_WORKDIR      the lease's clone
# env  GS_BASE         the lease's base branch
# env  GS_TARGET       the branch pushed to
# out  __GS_NOTHING    1 when the target already contains HEAD
# out  __GS_COMMIT     the rebased commit that was pushed
# out  __GS_REBASED    1 when the rebase moved HEAD
# out  __GS_CONFLICTS_BEGIN  then the conflicted paths, one per line
# out  __GS_CONFLICTS_END
# out  __GS_FAILED     (stderr) the step that failed
# exit OK              pushed
# exit NOTHING         nothing to push
# exit CONFLICT        the rebase conflicted and was aborted
# exit REJECTED        the target moved: retry
# exit FENCED          the gateway refused a stale fencing token
# exit NO_REPO         GS_WORKDIR is not there
# exit FAILED          another step failed
cd "$GS_WORKDIR" || fail workdir "$EXIT_NO_REPO"
git fetch --quiet --no-tags origin "+refs/heads/$GS_BASE:refs/remotes/origin/$GS_BASE" || fail fetch
expected=""
if [ "$GS_TARGET" != "$GS_BASE" ]; then
  git fetch --quiet --no-tags origin "+refs/heads/$GS_TARGET:refs/remotes/origin/$GS_TARGET" >/dev/null 2>&1 || git update-ref -d "refs/remotes/origin/$GS_TARGET"
  expected="$(git rev-parse -q --verify "refs/remotes/origin/$GS_TARGET" || true)"
fi
onto="origin/$GS_TARGET"
git rev-parse -q --verify "$onto" >/dev/null || onto="origin/$GS_BASE"
if [ "$(git rev-list --count "$onto..HEAD")" = "0" ]; then echo "__GS_NOTHING=1"; exit "$EXIT_NOTHING"; fi
before="$(git rev-parse HEAD)"
rebase_or_report "$onto"
after="$(git rev-parse HEAD)"
if [ "$GS_TARGET" = "$GS_BASE" ]; then
  out="$(git push --porcelain origin "HEAD:refs/heads/$GS_TARGET" 2>&1)"; rc=$?
else
  out="$(git push --porcelain "--force-with-lease=refs/heads/$GS_TARGET:$expected" origin "HEAD:refs/heads/$GS_TARGET" 2>&1)"; rc=$?
fi
echo "__GS_COMMIT=$after"
if [ "$before" = "$after" ]; then echo "__GS_REBASED=0"; else echo "__GS_REBASED=1"; fi
classify_push "$rc" "$out"
