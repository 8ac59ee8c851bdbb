// The bash side of background jobs. A job's state lives in the sandbox, in <home>/.git-sandbox/jobs/
// <job id>/: command, started, pid, runner, out and err (each cut at GS_CAP + 1 bytes), then ended
// and exit (written by the job's runner), killed and timedout (markers). The runner is a detached
// session of its own that starts the command in another session marked GS_JOB=<job id>, waits for
// it and records how it ended.
//
// Why the sandbox and not the PoolCoordinator: the output has to be kept where it is printed (the
// Worker is gone once the request is answered), the state dies with the lease for free (the scrub
// kills every process and empties $HOME), and the coordinator stays bookkeeping only, with no
// per-job writes. The files are the tenant's to write: a tenant can make its own job's state lie,
// only to itself. Every caller value reaches these scripts through env, never interpolation.
import { ALIVE_FN, awaitReaders } from './output-readers.ts';

/** Helpers every job script shares; `jd` is the job's dir. */
const LIB = `# pid <file>: a pid read from the job's dir, empty unless it is a number above 1.
pid() { local p=""; read -r p 2>/dev/null < "$1"; case "$p" in ''|*[!0-9]*|0|1) p="" ;; esac; printf '%s' "$p"; }
# alive <pid> <NAME=value>: the process runs and carries that mark in its environment.
alive() { [ -n "$1" ] && grep -qsxzF "$2" "/proc/$1/environ"; }
val() { local v=""; read -r v 2>/dev/null < "$1"; printf '%s' "$v"; }
# state: the job's state as __GS_* lines (the command's first 4 KiB).
state() {
  echo "__GS_CMD=$(head -c 4096 "$jd/command" | base64 -w0)"
  echo "__GS_STARTED=$(val "$jd/started")"
  echo "__GS_ENDED=$(val "$jd/ended")"
  echo "__GS_EXIT=$(val "$jd/exit")"
  echo "__GS_KILLED=$([ -e "$jd/killed" ] && echo 1 || echo 0)"
  echo "__GS_TIMEDOUT=$([ -e "$jd/timedout" ] && echo 1 || echo 0)"
  out_size="$(stat -c %s "$jd/out" 2>/dev/null || echo 0)"; err_size="$(stat -c %s "$jd/err" 2>/dev/null || echo 0)"
  echo "__GS_OUT=$out_size"
  echo "__GS_ERR=$err_size"
  if alive "$(pid "$jd/runner")" "GS_JOB_ID=$GS_JOB_ID"; then echo "__GS_ALIVE=1"; else echo "__GS_ALIVE=0"; fi
}
jd="$GS_JOBS/$GS_JOB_ID"`;

/** The runner (a detached session): starts the command, keeps its output, records its end. */
const RUNNER = `jd="$GS_JD"; n=$((GS_CAP + 1))
echo "$$" > "$jd/runner.tmp" && mv -f -- "$jd/runner.tmp" "$jd/runner"
finish() { date +%s%3N > "$jd/ended"; echo "$1" > "$jd/exit.tmp" && mv -f -- "$jd/exit.tmp" "$jd/exit"; rm -f -- "$jd/o.fifo" "$jd/e.fifo" "$jd/t.fifo"; exit 0; }
${ALIVE_FN}
cd "$GS_WORKDIR" || finish 127
# Unbuffered, so what the job printed can be read while it runs.
( stdbuf -o0 head -c "$n" > "$jd/out"; cat > /dev/null ) < "$jd/o.fifo" & op=$!
( stdbuf -o0 head -c "$n" > "$jd/err"; cat > /dev/null ) < "$jd/e.fifo" & ep=$!
cmd="$GS_CMD"; id="$GS_JOB_ID"; to="$GS_TIMEOUT_S"
unset GS_JD GS_WORKDIR GS_CMD GS_CAP GS_TIMEOUT_S GS_JOB_ID GS_JOBS GS_RUNNER
GS_JOB="$id" setsid bash -c "$cmd" < /dev/null > "$jd/o.fifo" 2> "$jd/e.fifo" & cp=$!
echo "$cp" > "$jd/pid"
wp=""
if [ -n "$to" ]; then
  ( read -rt "$to" _ <> "$jd/t.fifo"; : > "$jd/timedout"; kill -KILL -- "-$cp" "$cp"
    # shellcheck disable=SC2086  # a list of pids, split on purpose
    for _ in 1 2 3 4 5; do p="$(grep -lsxzF "GS_JOB=$id" /proc/[0-9]*/environ | cut -d/ -f3)"; [ -z "$p" ] && break; kill -KILL $p; done ) 2>/dev/null & wp=$!
fi
wait "$cp" 2>/dev/null; rc=$?
[ -n "$wp" ] && kill "$wp" 2>/dev/null
[ -e "$jd/timedout" ] && rc=124
${awaitReaders('GS_JOB=$id', '"$jd/t.fifo"')}
finish "$rc"`;

/**
 * Starts a job: makes its dir and starts its runner detached (no stdio of this command), then
 * waits until the runner has recorded its pid. Env: GS_JOBS, GS_JOB_ID, GS_WORKDIR, GS_CMD, GS_CAP,
 * GS_TIMEOUT_S (empty: none).
 */
export function jobStartScript(): string {
  return `${LIB}
umask 077
mkdir -p -- "$GS_JOBS" && mkdir -- "$jd" || exit 1
printf '%s' "$GS_CMD" > "$jd/command" && date +%s%3N > "$jd/started" && : > "$jd/out" && : > "$jd/err" || exit 1
mkfifo "$jd/o.fifo" "$jd/e.fifo" "$jd/t.fifo" || exit 1
# shellcheck disable=SC2016  # the runner's text, expanded by the runner
GS_JD="$jd" GS_RUNNER=1 setsid bash -c ${shellQuote(RUNNER)} < /dev/null > /dev/null 2>&1 &
for _ in $(seq 100); do [ -e "$jd/runner" ] && break; read -rt 0.02 _ <> "$jd/t.fifo"; done
echo "__GS_STARTED=$(val "$jd/started")"`;
}

/** Prints a job's state (exit 3 when there is no such job). Env: GS_JOBS, GS_JOB_ID. */
export function jobStatusScript(): string {
  return `${LIB}
if [ ! -d "$jd" ] || [ -L "$jd" ]; then echo "__GS_MISSING=1"; exit 3; fi
state`;
}

/**
 * Kills a job that has not ended: marks it killed, kills its session and every process carrying its
 * mark, waits for its runner to record the end (records it itself when the runner is gone), then
 * prints its state. Env: GS_JOBS, GS_JOB_ID.
 */
export function jobKillScript(): string {
  return `${LIB}
if [ ! -d "$jd" ] || [ -L "$jd" ]; then echo "__GS_MISSING=1"; exit 3; fi
if [ ! -e "$jd/exit" ]; then
  : > "$jd/killed"
  cp="$(pid "$jd/pid")"
  [ -n "$cp" ] && kill -KILL -- "-$cp" "$cp" 2>/dev/null
  # shellcheck disable=SC2086  # a list of pids, split on purpose
  for _ in 1 2 3 4 5; do p="$(grep -lsxzF "GS_JOB=$GS_JOB_ID" /proc/[0-9]*/environ | cut -d/ -f3)"; [ -z "$p" ] && break; kill -KILL $p 2>/dev/null; done
  for _ in $(seq 100); do [ -e "$jd/exit" ] && break; alive "$(pid "$jd/runner")" "GS_JOB_ID=$GS_JOB_ID" || break; sleep 0.05; done
  if [ ! -e "$jd/exit" ]; then date +%s%3N > "$jd/ended"; echo 137 > "$jd/exit"; fi
fi
state`;
}

/**
 * Prints a job's state, then up to GS_MAX bytes of each stream from GS_OUT_FROM / GS_ERR_FROM
 * (base64), never past GS_CAP nor past the sizes the state reported (so the two agree). The state
 * is read first, so an exited job's data is complete.
 * Env: GS_JOBS, GS_JOB_ID, GS_OUT_FROM, GS_ERR_FROM, GS_MAX, GS_CAP.
 */
export function jobLogsScript(): string {
  return `${LIB}
if [ ! -d "$jd" ] || [ -L "$jd" ]; then echo "__GS_MISSING=1"; exit 3; fi
state
part() {
  local size=$3 from=$2 len
  [ "$size" -gt "$GS_CAP" ] && size=$GS_CAP
  len=$((size - from)); [ "$len" -gt "$GS_MAX" ] && len=$GS_MAX
  [ "$len" -gt 0 ] && tail -c "+$((from + 1))" "$jd/$1" | head -c "$len" | base64 -w0
}
echo "__GS_OUTDATA=$(part out "$GS_OUT_FROM" "$out_size")"
echo "__GS_ERRDATA=$(part err "$GS_ERR_FROM" "$err_size")"`;
}

/** Prints the state of up to 100 jobs, each after a `__GS_JOB_ID=` line. Env: GS_JOBS. */
export function jobListScript(): string {
  return `GS_JOB_ID=""
${LIB}
n=0
for jd in "$GS_JOBS"/job_*; do
  GS_JOB_ID="\${jd##*/}"
  if ! [[ $GS_JOB_ID =~ ^job_[0-9a-f]{24}$ ]] || [ ! -d "$jd" ] || [ -L "$jd" ]; then continue; fi
  echo "__GS_JOB_ID=$GS_JOB_ID"
  state
  n=$((n + 1)); [ "$n" -ge 100 ] && break
done
true`;
}

/** The runner's own text (for tests: it runs inside jobStartScript). */
export function jobRunnerScript(): string {
  return RUNNER;
}

/** Single-quotes a constant for bash (the runner's text; never caller input). */
function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
