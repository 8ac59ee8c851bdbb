# shellcheck shell=bash
# scrub.sh: returns a pool member to "as cloned" between leases and verifies it: every process of
# the lease ends, $HOME/$TMPDIR/tmp are emptied, the clone is rebuilt as a fresh clone of
# GS_TIP. A clone that cannot be rebuilt (not a git dir, bad config, origin not GS_URL, GS_TIP empty
# or not to be had) is removed; a member without a clone is clean (its next lease clones).
#
# env  GS_HOME         the member's home ($HOME itself points elsewhere, so no profile of the tenant's runs)
# env  GS_TIP          the base's tip as the service read it upstream: the clone is rebuilt at exactly that commit
# env  GS_URL          the repo's gateway URL, which the clone's origin must still be
# env  GS_AUTH         a member credential, to fetch GS_TIP through the gateway when the old clone lacks it
# out  __GS_SCOPE      machine (a VM of its own) or sandbox (a shared host: only E2B_SANDBOX_ID's processes)
# out  __GS_BASE       the commit the kept clone is at
# out  __GS_CLEAN      1 when verified clean, else 0
# out  __GS_STRAY      (stderr) the first thing the verification found
# out  __GS_FAILED     (stderr) the step that failed
# exit OK              clean
# exit FAILED          not clean: the member is discarded
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C
export GIT_NO_REPLACE_OBJECTS=1 GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0 GIT_ASKPASS='' GIT_EDITOR=: GIT_CONFIG_COUNT=0
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES GIT_CONFIG GIT_CONFIG_PARAMETERS GIT_NAMESPACE GIT_COMMON_DIR XDG_CONFIG_HOME
g() { git -c core.hooksPath=/dev/null -c core.fsmonitor=false -c protocol.allow=never -c protocol.file.allow=always -c gc.auto=0 -c maintenance.auto=false "$@"; }
home="$GS_HOME"
case "$home" in /?*) ;; *) fail home ;; esac
case "$home" in *//*|*/./*|*/../*|*/.|*/..) fail home ;; esac
{ [ -d "$home" ] && [ ! -L "$home" ]; } || fail home
cd / || fail root
# Where the scrub looks for the lease's processes. `machine`: the sandbox has a process table of
# its own (a VM whose envd started this script, or a pid namespace this script was entered into
# from outside, so its parent is pid 0) and the script runs as a non-root user: every process of
# that user is the tenant's, and /tmp is the sandbox's. `sandbox`: the sandbox shares a host's
# processes, so only those carrying this sandbox's E2B_SANDBOX_ID are its own, and /tmp is the host's.
scope=sandbox; pcomm=""
read -r pcomm 2>/dev/null < "/proc/$PPID/comm"
{ [ "$pcomm" = envd ] || [ "$PPID" = 0 ]; } && [ "$EUID" != 0 ] && scope=machine
sid="${E2B_SANDBOX_ID:-}"
[ "$scope" = machine ] || [ -n "$sid" ] || fail scope
echo "__GS_SCOPE=$scope"
# Sets $procs to the sandbox's live processes except this script, its ancestors and pid 1 (no fork per pid).
protect=" 1 $$ "; p=$$
while [ "$p" -gt 1 ]; do
  pp=0
  while read -r k v _; do [ "$k" = PPid: ] && { pp=$v; break; }; done 2>/dev/null < "/proc/$p/status"
  protect="$protect$pp "; p=$pp
done
list_procs() {
  procs=""; local d pid line st cand=""
  if [ "$scope" = machine ]; then for d in /proc/[0-9]*; do [ -O "$d" ] && cand="$cand ${d#/proc/}"; done; fi
  if [ -n "$sid" ]; then
    # shellcheck disable=SC2013  # /proc/<pid>/environ paths hold no spaces
    for d in $(grep -lsxzF "E2B_SANDBOX_ID=$sid" /proc/[0-9]*/environ); do d=${d#/proc/}; cand="$cand ${d%/environ}"; done
  fi
  for pid in $cand; do
    case "$protect$procs " in *" $pid "*) continue ;; esac
    line=""; read -r line 2>/dev/null < "/proc/$pid/stat" || continue
    st=${line##*) }; st=${st%% *}
    case "$st" in Z|X) continue ;; esac  # already dead, waiting to be reaped
    procs="$procs $pid "
  done
}
# Stops, then kills, every listed process, round after round until none is left (forkers included).
for _ in 1 2 3 4 5 6 7 8 9 10; do
  list_procs; [ -z "${procs// /}" ] && break
  # shellcheck disable=SC2086  # $procs is a list of pids, split on purpose
  kill -STOP $procs 2>/dev/null
  # shellcheck disable=SC2086
  kill -KILL $procs 2>/dev/null
  sleep 0.05
done
# Directories emptied besides $HOME: $TMPDIR when it is the sandbox's own; on a machine of its own also the shared tmp dirs.
tmpdirs=""
t="${TMPDIR:-}"
case "$t" in /|/tmp|/tmp/|/var/tmp|/dev/shm|"") ;; /*) [ -d "$t" ] && [ ! -L "$t" ] && tmpdirs="$t" ;; esac
shared=""; [ "$scope" = machine ] && shared="/tmp /var/tmp /dev/shm"
find "$home" -mindepth 1 -maxdepth 1 ! -name repo -exec rm -rf -- {} + 2>/dev/null
if [ -L "$home/repo" ] || { [ -e "$home/repo" ] && [ ! -d "$home/repo" ]; }; then rm -f -- "$home/repo"; fi
for d in $tmpdirs; do find "$d" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} + 2>/dev/null; done
for d in $shared; do [ -d "$d" ] && find "$d" -mindepth 1 -maxdepth 1 -user "$EUID" -exec rm -rf -- {} + 2>/dev/null; done
# Writes the one config a scrubbed clone has: origin's URL and fetch refspec for <base>, and the base.
expected_config() {
  printf '%s\n' core.repositoryformatversion=0 core.filemode=true core.bare=false core.logallrefupdates=true \
    "remote.origin.url=$url" "remote.origin.fetch=+refs/heads/$base:refs/remotes/origin/$base" "git-sandbox.base=$base"
}
# It is written in one go, with no git process; verify() reads it back through git against expected_config.
write_config() {
  local qurl qfetch qbase
  quote_config qurl "$url" && quote_config qfetch "+refs/heads/$base:refs/remotes/origin/$base" && quote_config qbase "$base" || return 1
  printf '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n[remote "origin"]\n\turl = %s\n\tfetch = %s\n[git-sandbox]\n\tbase = %s\n' "$qurl" "$qfetch" "$qbase" > "$1"
}
# Rebuilds $home/repo/.git as a fresh clone of refs/remotes/origin/<base>: a new empty git dir (no
# template, so no hooks, info or description) with the fixed config (a shallow clone keeps its
# shallow list, so it stays shallow at the same boundary), into which the old repo's
# origin/<base> is fetched (index-pack re-hashes every object, so no tampered object survives, and
# nothing unreachable comes along); the old .git and the whole working tree are then replaced.
# Returns non-zero when the old clone cannot be trusted enough to rebuild (the caller removes it).
rebuild() {
  repo="$home/repo"; old="$repo/.git"; new="$home/.gs-scrub.git"
  [ -d "$repo" ] && [ ! -L "$repo" ] && [ -d "$old" ] && [ ! -L "$old" ] && [ -f "$old/config" ] && [ ! -L "$old/config" ] || return 1
  url="$(g config --file "$old/config" --get remote.origin.url)" || return 1
  base="$(g config --file "$old/config" --get git-sandbox.base)" || return 1
  case "$url" in http://?*|https://?*) ;; *) return 1 ;; esac
  # The clone must still point at the repo's gateway URL (the tenant may have rewritten its config).
  [ "$url" = "${GS_URL:-}" ] || return 1
  # A partial clone lacks blobs the rebuild would copy (and a tenant may have hidden that it is
  # one, which the fetch below then fails on): it is removed, and the next lease clones.
  [ -z "$(g config --file "$old/config" --get-regexp '^(remote\..*\.promisor|extensions\.partialclone)$')" ] || return 1
  case "$url$base" in *[[:space:][:cntrl:]]*) return 1 ;; esac
  case "$base" in -*|HEAD|refs/*|*@*) return 1 ;; esac
  g check-ref-format "refs/heads/$base" || return 1
  rm -rf -- "$new"
  g init -q --bare --template= "$new" >/dev/null || return 1
  rm -f -- "$new/config" && write_config "$new/config" || return 1
  # The old repo serves the fetch, so nothing of its own may steer git: config, hooks, info, alternates, worktree links.
  rm -rf -- "$old/config" "$old/config.worktree" "$old/hooks" "$old/info" "$old/objects/info" "$old/commondir" "$old/gitdir" "$old/worktrees" "$old/modules" || return 1
  cp -- "$new/config" "$old/config" || return 1
  if [ -f "$old/shallow" ] && [ ! -L "$old/shallow" ]; then cp -- "$old/shallow" "$new/shallow" || return 1; fi
  # Only the tip the service read from the upstream is kept, never the tenant's own origin/<base>.
  tip="${GS_TIP:-}"
  case "$tip" in [0-9a-f][0-9a-f][0-9a-f][0-9a-f]*) ;; *) return 1 ;; esac
  if ! g --git-dir="$old" cat-file -e "$tip^{commit}" 2>/dev/null; then
    # The clone is behind: fetch the tip through the gateway (a member credential) into the old
    # object store first; only objects reachable from the tip are then copied (and re-hashed).
    [ -n "${GS_AUTH:-}" ] || return 1
    g -c protocol.http.allow=always -c protocol.https.allow=always -c "http.extraHeader=Authorization: $GS_AUTH" --git-dir="$old" fetch -q --no-tags --no-write-fetch-head "$url" "+refs/heads/$base:refs/gs-scrub-net" >/dev/null 2>&1 || return 1
    g --git-dir="$old" cat-file -e "$tip^{commit}" 2>/dev/null || return 1
  fi
  g --git-dir="$old" update-ref refs/gs-scrub-tip "$tip" || return 1
  g --git-dir="$new" fetch -q --no-tags --no-write-fetch-head --update-shallow "$old" "+refs/gs-scrub-tip:refs/remotes/origin/$base" >/dev/null 2>&1 || return 1
  sha="$(g --git-dir="$new" rev-parse -q --verify "refs/remotes/origin/$base^{commit}")" || return 1
  [ "$sha" = "$tip" ] || return 1
  rm -rf -- "$old" && mv -- "$new" "$old" || return 1
  cd "$repo" || return 1
  # A fresh index of origin/<base>, refreshed by hashing what is on disk (no stat data or flag the
  # tenant left is trusted); checkout then rewrites only what differs and clean drops the rest.
  g read-tree "$sha" && g update-index -q --refresh >/dev/null
  g checkout -q -f --detach "$sha" && g clean -ffdxq || return 1
  rm -rf -- .git/logs
}
url=""; base=""; sha=""
if [ -e "$home/repo" ] && ! rebuild; then
  cd / && rm -rf -- "$home/repo" "$home/.gs-scrub.git"
fi
[ -d "$home/repo/.git" ] && echo "__GS_BASE=$sha"
cd /
# Checks everything the scrub promised; prints the first thing found (stderr) and fails.
bad() { echo "__GS_STRAY=$1" >&2; return 1; }
verify() {
  list_procs; [ -z "${procs// /}" ] || bad "processes:$procs" || return 1
  [ -z "$(find "$home" -mindepth 1 -maxdepth 1 ! -name repo -print -quit)" ] || bad home || return 1
  for d in $tmpdirs; do [ -z "$(find "$d" -mindepth 1 -print -quit)" ] || bad "tmp:$d" || return 1; done
  for d in $shared; do [ ! -d "$d" ] || [ -z "$(find "$d" -mindepth 1 -user "$EUID" -print -quit 2>/dev/null)" ] || bad "tmp:$d" || return 1; done
  [ -e "$home/repo" ] || return 0
  cd "$home/repo" && [ -d .git ] && [ ! -L .git ] || bad repo || return 1
  [ "$(g config --file .git/config --list)" = "$(expected_config)" ] || bad config || return 1
  [ -z "$(find .git -mindepth 1 -maxdepth 1 ! -name HEAD ! -name config ! -name index ! -name objects ! -name refs ! -name packed-refs ! -name shallow -print -quit)" ] || bad git-dir || return 1
  [ ! -e .git/hooks ] && [ ! -e .git/info ] && [ ! -e .git/logs ] && [ ! -e .git/objects/info/alternates ] || bad git-dir || return 1
  [ "$(g for-each-ref --format='%(refname)')" = "refs/remotes/origin/$base" ] || bad refs || return 1
  ! g symbolic-ref -q HEAD >/dev/null && [ "$(g rev-parse HEAD)" = "$sha" ] || bad head || return 1
  [ -z "$(g fsck --connectivity-only --unreachable --no-reflogs --no-progress 2>&1)" ] || bad objects || return 1
  [ -z "$(g status --porcelain --ignored --untracked-files=all)" ] || bad tree || return 1
  [ -z "$(find . -path ./.git -prune -o -type d -empty -print -quit)" ] || bad tree || return 1
}
if verify; then echo "__GS_CLEAN=1"; else echo "__GS_CLEAN=0"; exit "$EXIT_FAILED"; fi
