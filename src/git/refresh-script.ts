// The fetch that keeps an idle pool member's clone at the tip (src/git/scripts/refresh.sh), under
// the name the pool's maintenance code imports it by.
export { refreshScript } from './scripts.ts';
