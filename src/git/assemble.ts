// Builds the text of a script as it runs in a sandbox: the shared lib.sh, then the script's own body.

/** The runnable text of a script: `lib` (src/git/scripts/lib.sh) prepended to `body`. */
export function assembleScript(lib: string, body: string): string {
  return `${lib.trimEnd()}\n\n${body}`;
}
