# shellcheck shell=bash
# search.sh: lines matching a pattern in the working tree's text files (tracked, and untracked ones
# .gitignore does not exclude), as records `<path> NUL <line> NUL <text> LF`, each cut at
# GS_LINE_CAP bytes; at most GS_MAX+1 records, the whole cut at GS_CAP+1 bytes.
#
# env  GS_WORKDIR      the lease's clone
# env  GS_PATTERN      the pattern
# env  GS_MODE         F for a fixed string, E for an extended regular expression
# env  GS_ICASE        1 to ignore case
# env  GS_SPEC         a pathspec limiting the files searched; empty for all
# env  GS_MAX          the most matches wanted (one more is printed, to show there are more)
# env  GS_LINE_CAP     byte cap of one record
# env  GS_CAP          the byte cap of the output
# out  __GS_FAILED     (stderr) the step that failed: pattern (not a valid regular expression) or grep
# exit OK
# exit NO_REPO         GS_WORKDIR is not there
# exit FAILED          the pattern is not valid, or git grep failed
cd "$GS_WORKDIR" || fail workdir "$EXIT_NO_REPO"
cap="$GS_CAP"
max="$GS_MAX"
opts=(-F)
if [ "$GS_MODE" = E ]; then
  opts=(-E)
  # grep exits 2 for a pattern it cannot compile (1 only means no match on empty input).
  grep -E -e "$GS_PATTERN" </dev/null >/dev/null 2>&1
  [ "$?" -eq 2 ] && fail pattern
fi
if [ "${GS_ICASE:-0}" = 1 ]; then opts+=(-i); fi
spec=()
if [ -n "${GS_SPEC:-}" ]; then spec=("$GS_SPEC"); fi
git -c color.ui=never -c grep.column=false grep --untracked -I -n -z --full-name --no-color "${opts[@]}" -e "$GS_PATTERN" -- "${spec[@]}" \
  | cut -b "1-$GS_LINE_CAP" | head -n "$((max + 1))" | head -c "$((cap + 1))"
rc="${PIPESTATUS[0]}"
# 1 is "no match"; a cut pipe ends git with SIGPIPE (141): the output was cut, not wrong.
[ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] || [ "$rc" -eq 141 ] || fail grep
