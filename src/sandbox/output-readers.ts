// Bash shared by the exec, streamed-exec and job runners: waiting for the readers that copy a
// command's stdout and stderr out of their FIFOs once the command has exited.

/** `alive PID`: the process exists and is not a zombie. */
export const ALIVE_FN = `alive() { local l; read -r l 2>/dev/null < "/proc/$1/stat" || return 1; l="\${l##*) }"; [ "\${l%% *}" != Z ]; }`;

/**
 * Waits for the readers `$op` and `$ep` to end. They end once every writer is gone. For the first
 * 2 s nothing else ends the wait; past that a process left with the command's `mark` (a writer it
 * left running) ends it, while readers a loaded machine started late are waited for, up to
 * GS_DRAIN_S seconds (default 30), so no output is lost. A command that strips its mark from a
 * writer it leaves holds only its own answer, and only that long. `tick` is a FIFO nobody writes,
 * read with a timeout as a sleep without a fork.
 */
export function awaitReaders(mark: string, tick: string): string {
  return `for i in $(seq $(( \${GS_DRAIN_S:-30} * 20 ))); do alive "$op" || alive "$ep" || break; [ "$i" -gt 40 ] && grep -qsxzF "${mark}" /proc/[0-9]*/environ && break; read -rt 0.05 _ <> ${tick}; done`;
}
