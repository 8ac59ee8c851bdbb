// Builds the text of a script as it runs in a sandbox: the shared lib.sh, then the script's own body.

/** The runnable text of a script: `lib` (src/git/scripts/lib.sh) prepended to `body`. */
export function assembleScript(lib: string, body: string): string {
  return `${lib.trimEnd()}\n\n${body}`;
}

/** The line that ends the first script's output in a chained run (stdout and stderr), with its exit code. */
export const CHAIN_MARK = '__GS_CHAIN_RC';

/**
 * One command that runs `first` and, only when it exits 0, `second`, each in its own subshell (so
 * one script's `exit` ends only that script); one sandbox round trip instead of two. The first
 * script's exit code ends its output on both streams; splitChain (script-results.ts) cuts there.
 */
export function chainScripts(first: string, second: string): string {
  return `( ${first}\n)\nrc=$?\nprintf '\\n${CHAIN_MARK}=%s\\n' "$rc"\nprintf '\\n${CHAIN_MARK}=%s\\n' "$rc" >&2\n[ "$rc" -eq 0 ] || exit "$rc"\n( ${second}\n)\n`;
}
