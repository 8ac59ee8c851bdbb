// The git scripts the service runs in sandboxes: src/git/scripts/*.sh, bundled as text (wrangler's
// Text rule for **/*.sh) with lib.sh prepended. Each script's header names its GS_* env inputs,
// output markers and exit codes; src/git/script-results.ts parses what it prints. Every caller value
// reaches a script through its env, never through string interpolation.
import { assembleScript } from './assemble.ts';
import commit from './scripts/commit.sh';
import dropQueueRef from './scripts/drop-queue-ref.sh';
import fetchBase from './scripts/fetch-base.sh';
import land from './scripts/land.sh';
import landBatch from './scripts/land-batch.sh';
import lib from './scripts/lib.sh';
import listQueueRefs from './scripts/list-queue-refs.sh';
import prepare from './scripts/prepare.sh';
import preclone from './scripts/preclone.sh';
import pull from './scripts/pull.sh';
import queue from './scripts/queue.sh';
import refresh from './scripts/refresh.sh';
import scrub from './scripts/scrub.sh';
import setup from './scripts/setup.sh';
import syncLanded from './scripts/sync-landed.sh';
import sweepQueueRefs from './scripts/sweep-queue-refs.sh';

export { EXIT } from './script-results.ts';

const script = (body: string) => {
  const text = assembleScript(lib, body);
  return () => text;
};

/** setup.sh: prints the sandbox user's home. */
export const setupScript = script(setup);
/** prepare.sh: clones or fetches the repo and checks out the lease's branch. */
export const prepareScript = script(prepare);
/** preclone.sh: clones a repo into an idle pool member ahead of demand. */
export const precloneScript = script(preclone);
/** commit.sh: stages and commits. */
export const commitScript = script(commit);
/** land.sh: one landing attempt on the agent branch (fetch, rebase, compare-and-swap push). */
export const landScript = script(land);
/** pull.sh: fetch and rebase onto the base with autostash. */
export const pullScript = script(pull);
/** queue.sh: parks HEAD on a queue ref for the lander. */
export const queueScript = script(queue);
/** land-batch.sh: the lander's batched landing of queued entries. */
export const landBatchScript = script(landBatch);
/** sync-landed.sh: moves the lease's branch to its landed commit. */
export const syncLandedScript = script(syncLanded);
/** fetch-base.sh: brings origin/<base> up to the remote's tip. */
export const fetchBaseScript = script(fetchBase);
/** drop-queue-ref.sh: deletes a withdrawn entry's queue ref. */
export const dropQueueRefScript = script(dropQueueRef);
/** list-queue-refs.sh: lists the queue refs on the remote. */
export const listQueueRefsScript = script(listQueueRefs);
/** sweep-queue-refs.sh: deletes the queue refs of the given entries. */
export const sweepQueueRefsScript = script(sweepQueueRefs);
/** refresh.sh: keeps an idle pool member's clone at the tip. */
export const refreshScript = script(refresh);
/** scrub.sh: returns a pool member to "as cloned" and verifies it. */
export const scrubScript = script(scrub);
