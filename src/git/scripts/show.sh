# shellcheck shell=bash
# show.sh: one commit in three parts separated by GS_SPLIT: its metadata (NUL-separated fields
# sha, parents, author name, email, date, committer name, email, date, then the full message), the
# numstat (-z) of its change against its first parent (the empty tree for a root commit), and that
# change as a patch. Each part is cut at its cap plus one byte.
#
# env  GS_WORKDIR      the lease's clone
# env  GS_REV          the revision, checked by the service; it must name a commit
# env  GS_SPLIT        the text between the parts (a nonce the repository's content cannot forge)
# env  GS_META_CAP     byte cap of the metadata part
# env  GS_STAT_CAP     byte cap of the numstat part
# env  GS_DIFF_CAP     byte cap of the patch part
# out  __GS_FAILED     (stderr) the step that failed: rev (no such commit), show or diff
# exit OK
# exit NO_REPO         GS_WORKDIR is not there
# exit FAILED          the revision names no commit, or git failed
cd "$GS_WORKDIR" || fail workdir "$EXIT_NO_REPO"
meta_cap="$GS_META_CAP"; stat_cap="$GS_STAT_CAP"; diff_cap="$GS_DIFF_CAP"
sha="$(git rev-parse --verify --quiet --end-of-options "$GS_REV^{commit}")" || fail rev
# The repo's config is the tenant's: signatures, colour, encoding and external diff drivers are pinned here.
g() { git -c log.showSignature=false -c color.ui=never -c i18n.logOutputEncoding=UTF-8 "$@"; }
# A cut pipe ends git with SIGPIPE (141): the part was cut, not wrong.
cut_ok() { [ "$1" -eq 0 ] || [ "$1" -eq 141 ]; }
g show -s --no-color --format='%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B' "$sha" | head -c "$((meta_cap + 1))"
cut_ok "${PIPESTATUS[0]}" || fail show
parent="$(git rev-parse --verify --quiet "$sha^1")" || parent="$(git hash-object -t tree /dev/null)"
printf '%s' "$GS_SPLIT"
g diff --no-ext-diff --no-textconv --numstat -z "$parent" "$sha" | head -c "$((stat_cap + 1))"
cut_ok "${PIPESTATUS[0]}" || fail diff
printf '%s' "$GS_SPLIT"
g diff --no-ext-diff --no-textconv --no-color "$parent" "$sha" | head -c "$((diff_cap + 1))"
cut_ok "${PIPESTATUS[0]}" || fail diff
