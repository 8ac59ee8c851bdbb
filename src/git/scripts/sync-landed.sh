# shellcheck shell=bash
# sync-landed.sh: once the lease's entry is on the base, moves the lease's branch to the landed
# commit (keeping uncommitted files) and origin/GS_BASE at least to it, so status shows nothing
# ahead. The objects come from the landing's bundle when it has them (no network), else a fetch.
#
# env  GS_WORKDIR      the lease's clone
# env  GS_BASE         the base branch
# env  GS_COMMIT       the landed commit
# env  GS_BUNDLE       base64 of the landing's bundle (land-batch.sh __GS_BUNDLE); may be empty
# exit OK
# exit FAILED          a step failed (the branch may be left where it was)
cd "$GS_WORKDIR" || exit "$EXIT_FAILED"
if ! git cat-file -e "$GS_COMMIT^{commit}" 2>/dev/null && [ -n "${GS_BUNDLE:-}" ]; then
  # Only objects are taken from the bundle (no ref is written from it); a bad bundle falls through to the fetch.
  f="$(mktemp)" && { printf '%s' "$GS_BUNDLE" | base64 -d > "$f" 2>/dev/null && git bundle unbundle "$f" >/dev/null 2>&1; rm -f "$f"; }
fi
git cat-file -e "$GS_COMMIT^{commit}" 2>/dev/null || git fetch --quiet --no-tags origin "+refs/heads/$GS_BASE:refs/remotes/origin/$GS_BASE" || exit "$EXIT_FAILED"
git merge-base --is-ancestor "$GS_COMMIT" "refs/remotes/origin/$GS_BASE" 2>/dev/null || git update-ref "refs/remotes/origin/$GS_BASE" "$GS_COMMIT"
[ "$(git rev-parse HEAD)" = "$GS_COMMIT" ] || git reset --quiet --keep "$GS_COMMIT" || exit "$EXIT_FAILED"
