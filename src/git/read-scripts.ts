// The read scripts and the batch write script the service runs in a lease's clone:
// src/git/scripts/{log,show,list-files,search,write-files}.sh with lib.sh prepended (as in
// scripts.ts); src/git/read-results.ts parses what they print.
import { assembleScript } from './assemble.ts';
import lib from './scripts/lib.sh';
import listFiles from './scripts/list-files.sh';
import log from './scripts/log.sh';
import search from './scripts/search.sh';
import show from './scripts/show.sh';
import writeFiles from './scripts/write-files.sh';

const script = (body: string) => {
  const text = assembleScript(lib, body);
  return () => text;
};

/** log.sh: the commits of a revision range. */
export const logScript = script(log);
/** show.sh: one commit's metadata, numstat and patch. */
export const showScript = script(show);
/** list-files.sh: the working tree's entries under a directory or matching a glob. */
export const listFilesScript = script(listFiles);
/** search.sh: matching lines of the working tree's text files. */
export const searchScript = script(search);
/** write-files.sh: applies a staged batch of writes and deletes all together or not at all. */
export const writeFilesScript = script(writeFiles);
