# shellcheck shell=bash
# log.sh: the commits of a revision or range, newest first, as NUL-ended records
# `<sha> US <author name> US <author email> US <author date> US <subject>` (US = 0x1f), cut at
# GS_CAP+1 bytes.
#
# env  GS_WORKDIR      the lease's clone
# env  GS_RANGE        a revision or a range (A..B, A...B), checked by the service
# env  GS_SPEC         a pathspec: only commits touching it; empty for every commit
# env  GS_LIMIT        the most commits listed
# env  GS_CAP          the byte cap of the output
# out  __GS_FAILED     (stderr) the step that failed: rev (the range names no commit) or log
# exit OK
# exit NO_REPO         GS_WORKDIR is not there
# exit FAILED          the range does not resolve, or git log failed
cd "$GS_WORKDIR" || fail workdir "$EXIT_NO_REPO"
cap="$GS_CAP"
git rev-list --max-count=0 --end-of-options "$GS_RANGE" -- >/dev/null 2>&1 || fail rev
spec=()
if [ -n "${GS_SPEC:-}" ]; then spec=("$GS_SPEC"); fi
# The repo's config is the tenant's: signatures, colour and output encoding are pinned here.
git -c log.showSignature=false -c color.ui=never -c i18n.logOutputEncoding=UTF-8 \
  log -z --no-color --no-decorate --format='%H%x1f%an%x1f%ae%x1f%aI%x1f%s' --max-count="$GS_LIMIT" \
  --end-of-options "$GS_RANGE" -- "${spec[@]}" | head -c "$((cap + 1))"
rc="${PIPESTATUS[0]}"
# A cut pipe ends git with SIGPIPE (141): the output was cut, not wrong.
[ "$rc" -eq 0 ] || [ "$rc" -eq 141 ] || fail log
