# shellcheck shell=bash
# write-files.sh: applies a batch of file writes and deletes all together or not at all. The
# service stages the batch in GS_STAGE: `writes` and `deletes` (repo-relative paths, each ended by
# NUL) and the new contents as files named 0, 1, … in the order of `writes`. Every path is checked
# before anything changes: out of .git, no symlink and no file among its parent directories, a
# write's target not a directory, a delete's target present and not a directory. Deletes move the
# target into GS_STAGE; writes rename the staged file over the target (keeping an existing file's
# mode), after linking the old file into GS_STAGE. Any failure undoes every step taken, in reverse.
# GS_STAGE is removed at the end either way.
#
# env  GS_WORKDIR      the lease's clone
# env  GS_STAGE        the staging directory, inside the clone's .git (the same filesystem as the tree)
# out  __GS_REFUSED    `<reason> <index>` (index into writes, then deletes): git, parent, symlink, dir or missing
# out  __GS_APPLIED    `<writes> <deletes>` once everything is in place
# out  __GS_FAILED     (stderr) the step that failed
# exit OK
# exit NO_REPO         GS_WORKDIR is not there
# exit FAILED          a path was refused, or a step failed (everything was undone)
cd "$GS_WORKDIR" || fail workdir "$EXIT_NO_REPO"
stage="$GS_STAGE"
trap 'rm -rf -- "$stage"' EXIT
[ -d "$stage" ] || fail stage
mapfile -d '' -t writes < "$stage/writes" || fail stage
mapfile -d '' -t deletes < "$stage/deletes" || fail stage

refuse() { echo "__GS_REFUSED=$1 $2"; exit "$EXIT_FAILED"; }

# check <index> <path> <write|delete>: refuses a path the batch must not touch.
check() {
  local i="$1" p="$2" cur="" rest="$2"
  case "/$p/" in */.git/*) refuse git "$i" ;; esac
  while [[ "$rest" == */* ]]; do
    cur="${cur:+$cur/}${rest%%/*}"; rest="${rest#*/}"
    [ -L "$cur" ] && refuse symlink "$i"
    [ -e "$cur" ] || break
    [ -d "$cur" ] || refuse parent "$i"
  done
  if [ -d "$p" ] && [ ! -L "$p" ]; then refuse dir "$i"; fi
  if [ "$3" = delete ] && [ ! -e "$p" ] && [ ! -L "$p" ]; then refuse missing "$i"; fi
  return 0
}

n=0
for p in "${writes[@]}"; do check "$n" "$p" write; n=$((n + 1)); done
for p in "${deletes[@]}"; do check "$n" "$p" delete; n=$((n + 1)); done

# The undo log: kind (new, back, dir) and path, undone from the last entry to the first.
undo_kind=()
undo_path=()
logged() { undo_kind+=("$1"); undo_path+=("$2"); }
rollback() {
  local k
  for ((k = ${#undo_kind[@]} - 1; k >= 0; k--)); do
    case "${undo_kind[k]}" in
      new) rm -f -- "${undo_path[k]}" ;;
      back) mv -fT -- "$stage/old/$k" "${undo_path[k]}" ;;
      dir) rmdir -- "${undo_path[k]}" ;;
    esac
  done
}
abort() { rollback; fail "$1"; }

mkdir -p -- "$stage/old" || fail stage
for p in "${deletes[@]}"; do
  mv -T -- "$p" "$stage/old/${#undo_kind[@]}" || abort delete
  logged back "$p"
done
for i in "${!writes[@]}"; do
  p="${writes[i]}"
  if [[ "$p" == */* ]]; then
    cur=""; rest="${p%/*}/"
    while [ -n "$rest" ]; do
      cur="${cur:+$cur/}${rest%%/*}"; rest="${rest#*/}"
      if [ ! -d "$cur" ]; then
        mkdir -- "$cur" || abort mkdir
        logged dir "$cur"
      fi
    done
  fi
  if [ -e "$p" ] || [ -L "$p" ]; then
    [ -L "$p" ] || chmod --reference="$p" -- "$stage/$i" 2>/dev/null
    # The old file stays reachable from the stage until the batch is done.
    ln -P -- "$p" "$stage/old/${#undo_kind[@]}" 2>/dev/null || cp -a -- "$p" "$stage/old/${#undo_kind[@]}" || abort backup
    mv -fT -- "$stage/$i" "$p" || abort write
    logged back "$p"
  else
    mv -T -- "$stage/$i" "$p" || abort write
    logged new "$p"
  fi
done
echo "__GS_APPLIED=${#writes[@]} ${#deletes[@]}"
