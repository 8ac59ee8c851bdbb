# shellcheck shell=bash
# sweep-queue-refs.sh: deletes the queue refs of the given entries from the remote in one push.
#
# env  GS_WORKDIR      the lander's clone
# env  GS_ENTRIES      entry ids, one per line
# exit OK
# exit FAILED          the push failed
cd "$GS_WORKDIR" || exit "$EXIT_FAILED"
dels=()
while IFS= read -r id; do [ -n "$id" ] && dels+=(":$QUEUE_PREFIX/$id"); done <<<"$GS_ENTRIES"
[ "${#dels[@]}" -gt 0 ] || exit "$EXIT_OK"
git push --quiet origin "${dels[@]}" || exit "$EXIT_FAILED"
