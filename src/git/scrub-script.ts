// The scrub a pool member runs between leases (src/git/scripts/scrub.sh), under the name the pool's
// maintenance code imports it by.
export { scrubScript } from './scripts.ts';
