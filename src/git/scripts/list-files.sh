# shellcheck shell=bash
# list-files.sh: the working tree's entries (tracked files, and untracked ones .gitignore does not
# exclude; never .git) under GS_DIR down to GS_DEPTH levels, or every file matching GS_SPEC, as
# NUL-ended records `<mode> TAB <size> TAB <path>`: mode is stat's raw hex mode, or d for a
# directory on the way to deeper files (size 0). Cut at GS_CAP+1 bytes.
#
# env  GS_WORKDIR      the lease's clone
# env  GS_DIR          the directory listed, repo-relative; empty for the root
# env  GS_SPEC         a glob pathspec: when set, the matching files at any depth are listed instead
# env  GS_DEPTH        how many levels below GS_DIR are listed
# env  GS_CAP          the byte cap of the output
# out  __GS_BAD        GS_DIR is missing, not a directory, or reached through a symlink (then nothing is listed)
# out  __GS_FAILED     (stderr) the step that failed
# exit OK
# exit NO_REPO         GS_WORKDIR is not there
# exit FAILED          GS_DIR is not a directory of the repository, or git failed
cd "$GS_WORKDIR" || fail workdir "$EXIT_NO_REPO"
dir="${GS_DIR:-}"
cap="$GS_CAP"
if [ -n "$dir" ]; then
  root="$(pwd -P)"
  real="$(realpath -e -- "$dir" 2>/dev/null)" || { echo "__GS_BAD=missing"; exit "$EXIT_FAILED"; }
  # Equal only when no component on the way is a symlink.
  [ "$real" = "$root/$dir" ] || { echo "__GS_BAD=symlink"; exit "$EXIT_FAILED"; }
  [ -d "$real" ] || { echo "__GS_BAD=notdir"; exit "$EXIT_FAILED"; }
fi
if [ -n "${GS_SPEC:-}" ]; then spec=("$GS_SPEC"); elif [ -n "$dir" ]; then spec=(":(literal)$dir/"); else spec=(); fi
all="$(mktemp)" || fail mktemp
files="$(mktemp)" || fail mktemp
trap 'rm -f -- "$all" "$files"' EXIT
git ls-files -z --cached --others --exclude-standard -- "${spec[@]}" > "$all" || fail ls-files

# walk: directories within GS_DEPTH are printed once as they are met; files within it are
# collected in $files for one stat call.
walk() {
  local p rel prefix part i
  local -A seen=()
  while IFS= read -r -d '' p; do
    if [ -n "$dir" ]; then rel="${p#"$dir"/}"; prefix="$dir"; else rel="$p"; prefix=""; fi
    i=1
    while [[ "$rel" == */* ]]; do
      part="${rel%%/*}"; rel="${rel#*/}"
      prefix="${prefix:+$prefix/}$part"
      if [ -z "${seen[$prefix]:-}" ]; then
        seen[$prefix]=1
        if [ -d "$prefix" ]; then printf 'd\t0\t%s\0' "$prefix"; fi
      fi
      i=$((i + 1))
      [ "$i" -gt "$GS_DEPTH" ] && continue 2
    done
    printf '%s\0' "${prefix:+$prefix/}$rel" >> "$files"
  done
}

{
  # An unmerged path is listed once per stage; sort -u keeps one.
  if [ -n "${GS_SPEC:-}" ]; then sort -zu "$all" > "$files"; else sort -zu "$all" | walk; fi
  # Tracked files deleted from the tree have nothing to stat and are left out.
  xargs -0 -r stat --printf '%f\t%s\t%n\0' -- < "$files" 2>/dev/null
  true
} | head -c "$((cap + 1))"
