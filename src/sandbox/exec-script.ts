// The bash runner of a plain exec (services/files.ts execCommand): bounded capture into files, a deadline,
// every process of the command killed at it.
import { ALIVE_FN, awaitReaders } from './output-readers.ts';

/**
 * Runs GS_CMD in GS_WORKDIR for at most GS_TIMEOUT_S seconds. Its stdout and stderr go through
 * FIFOs into files cut at GS_CAP+1 bytes (the rest is drained, never stored), in a private dir deleted on
 * exit. The command runs in its own session marked GS_EXEC=<nonce>; at the deadline that session
 * and every process carrying the mark are killed. Output: a `__GS_EXEC rc= timeout= out= err=`
 * header line, then the captured stdout (on stdout) and stderr (on stderr).
 */
export function execScript(): string {
  return `cd "$GS_WORKDIR" || exit 1
d="$(mktemp -d)" || exit 1
trap 'rm -rf -- "$d"' EXIT
n=$((GS_CAP + 1)); t=0
mkfifo "$d/o" "$d/e" "$d/t" || exit 1
# Unbuffered, so what a command printed is in the file even while a writer it left lingers.
cap() { if command -v stdbuf >/dev/null; then stdbuf -o0 head -c "$n"; else head -c "$n"; fi > "$1"; cat > /dev/null; }
${ALIVE_FN}
# The readers hold none of this script's output: one a lingering writer keeps open cannot hold the answer.
cap "$d/out" < "$d/o" > /dev/null 2>&1 & op=$!
cap "$d/err" < "$d/e" > /dev/null 2>&1 & ep=$!
read -r nonce < /proc/sys/kernel/random/uuid
GS_EXEC="$nonce" setsid bash -c "$GS_CMD" < /dev/null > "$d/o" 2> "$d/e" & cp=$!
( read -rt "$GS_TIMEOUT_S" _ <> "$d/t"; : > "$d/timedout"; kill -KILL -- "-$cp" "$cp" ) 2>/dev/null & wp=$!
wait "$cp" 2>/dev/null; rc=$?
kill "$wp" 2>/dev/null
if [ -e "$d/timedout" ]; then
  t=1; rc=124
  for _ in 1 2 3 4 5; do
    pids="$(grep -lsxzF "GS_EXEC=$nonce" /proc/[0-9]*/environ | cut -d/ -f3)"
    [ -z "$pids" ] && break
    kill -KILL $pids 2>/dev/null
  done
fi
${awaitReaders('GS_EXEC=$nonce', '"$d/t"')}
printf '__GS_EXEC rc=%d timeout=%d out=%d err=%d\\n' "$rc" "$t" "$(stat -c %s "$d/out")" "$(stat -c %s "$d/err")"
head -c "$n" "$d/out"; head -c "$n" "$d/err" >&2`;
}
