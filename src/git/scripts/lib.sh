# shellcheck shell=bash
# lib.sh: prepended to every script at load time (src/git/assemble.ts): the exit-code table, the
# queue-ref prefix and the helpers the scripts share. It defines; it runs nothing.

# The exit codes of every script; EXIT in src/git/script-results.ts mirrors this table and
# test/unit/git-scripts.test.ts keeps the two (and each script's header) in sync.
# shellcheck disable=SC2034  # each script uses the codes it needs
{
  EXIT_OK=0          # done
  EXIT_FAILED=1      # a step failed: __GS_FAILED=<step> on stderr
  EXIT_CONFLICT=3    # a rebase conflicted and was aborted: paths between __GS_CONFLICTS_BEGIN/END
  EXIT_REJECTED=4    # the push was rejected because the ref moved: retry from the fetch
  EXIT_NOTHING=5     # nothing to push: the target already contains HEAD
  EXIT_CLONE=6       # cloning or fetching the repo failed
  EXIT_NO_REPO=7     # GS_WORKDIR is not there
  EXIT_NO_BRANCH=8   # the branch is not on the remote
  EXIT_FENCED=9      # the gateway refused the lander's stale fencing token
}

# Where queued base-branch entries are parked on the remote (QUEUE_PREFIX in src/gateway/ref-rules.ts).
# shellcheck disable=SC2034
QUEUE_PREFIX=refs/git-sandbox/queue

# fail <step> [code]: names the failed step on stderr and exits (EXIT_FAILED by default).
fail() { echo "__GS_FAILED=$1" >&2; exit "${2:-$EXIT_FAILED}"; }

# classify_push <rc> <output>: after a push, a moved ref exits REJECTED (retry), a stale fencing
# token FENCED, any other failure fails; a push that succeeded returns.
classify_push() {
  [ "$1" -eq 0 ] && return 0
  echo "$2" >&2
  case "$2" in
    *"fencing token"*) exit "$EXIT_FENCED" ;;
    *rejected*|*"fetch first"*|*non-fast-forward*|*"stale info"*|*"cannot lock ref"*|*"failed to update ref"*|*atomic*) exit "$EXIT_REJECTED" ;;
  esac
  fail push
}

# clone_repo [clone options…]: replaces ./repo with a fresh single-branch clone of GS_URL at
# GS_BRANCH (shaped by the options: --depth, --filter) and enters it.
# shellcheck disable=SC2120  # preclone.sh clones with no options
clone_repo() {
  local out
  rm -rf repo
  if ! out="$(git clone --quiet --no-tags --single-branch --branch "$GS_BRANCH" "$@" "$GS_URL" repo 2>&1)"; then
    echo "$out" >&2
    case "$out" in *"not found in upstream"*) fail branch "$EXIT_NO_BRANCH" ;; esac
    fail clone "$EXIT_CLONE"
  fi
  cd repo || fail clone "$EXIT_CLONE"
}

# quote_config <var> <value>: sets <var> to <value> as a double-quoted git config value (backslash
# and double quote escaped), so git reads back exactly <value>; fails on a control character.
quote_config() {
  local v=$2
  case "$v" in *[[:cntrl:]]*) return 1 ;; esac
  v=${v//\\/\\\\}
  printf -v "$1" '"%s"' "${v//\"/\\\"}"
}

# append_config <name> <email> <header>: appends a lease's settings (user.name, user.email,
# rebase.autoStash, one http.extraHeader) to ./.git/config in one write, with no git process. Only for
# a config that has none of them yet; a value with a control character is refused (nothing written).
append_config() {
  local n e h
  quote_config n "$1" && quote_config e "$2" && quote_config h "$3" || return 1
  printf '[user]\n\tname = %s\n\temail = %s\n[rebase]\n\tautoStash = true\n[http]\n\textraHeader = %s\n' "$n" "$e" "$h" >> .git/config
}

# rebase_or_report <rebase args…>: rebases; on a conflict prints the conflicted paths between
# __GS_CONFLICTS_BEGIN and __GS_CONFLICTS_END, aborts (the tree is as before) and exits CONFLICT.
rebase_or_report() {
  if ! git rebase --quiet "$@" >/dev/null 2>&1; then
    echo "__GS_CONFLICTS_BEGIN"
    git diff --name-only --diff-filter=U
    echo "__GS_CONFLICTS_END"
    git rebase --abort >/dev/null 2>&1
    exit "$EXIT_CONFLICT"
  fi
}
