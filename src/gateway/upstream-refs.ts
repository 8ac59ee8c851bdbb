// Reads a branch tip straight from the upstream (the smart-HTTP ref advertisement), from trusted
// code: the pool checks freshness of idle members without running anything in a sandbox.
import type { Config } from '../config.ts';
import { parseRepoUrl } from '../git/validate.ts';
import { upstreamAuth } from './upstream-auth.ts';

const dec = new TextDecoder();

/** Parses a git-upload-pack ref advertisement; returns ref → object id. */
export function parseAdvertisement(body: Uint8Array): Map<string, string> {
  const refs = new Map<string, string>();
  let pos = 0;
  while (pos + 4 <= body.length) {
    const len = parseInt(dec.decode(body.subarray(pos, pos + 4)), 16);
    if (Number.isNaN(len)) break;
    if (len === 0) {
      pos += 4;
      continue;
    }
    const line = dec.decode(body.subarray(pos + 4, pos + len)).replace(/\n$/, '').split('\0')[0];
    pos += len;
    const m = /^([0-9a-f]{40}|[0-9a-f]{64}) (\S+)$/.exec(line);
    if (m) refs.set(m[2], m[1]);
  }
  return refs;
}

/** The current commit of `branch` upstream, or null when the branch does not exist. */
export async function upstreamTip(cfg: Config, repoUrl: string, branch: string): Promise<string | null> {
  const repo = parseRepoUrl(repoUrl);
  const auth = upstreamAuth(cfg);
  const get = async () =>
    fetch(`${repo.url}/info/refs?service=git-upload-pack`, { headers: { authorization: await auth.authorization(repo), 'user-agent': 'git/2.0 git-sandbox' }, signal: AbortSignal.timeout(10_000) });
  let res = await get();
  if (res.status === 401) {
    auth.invalidate(repo);
    res = await get();
  }
  if (!res.ok) throw new Error(`upstream ref advertisement answered ${res.status}`);
  // The advertisement of one repository's refs; bounded by what the upstream serves.
  return parseAdvertisement(new Uint8Array(await res.arrayBuffer())).get(`refs/heads/${branch}`) ?? null;
}
