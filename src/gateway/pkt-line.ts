// git pkt-line framing for the gateway: reads the command list at the head of a receive-pack
// request from a stream (the pack after it is never parsed) and writes refusal reports.

const dec = new TextDecoder();
const enc = new TextEncoder();

/** One ref update a client asks receive-pack to make. */
export interface RefCommand {
  oldOid: string;
  newOid: string;
  ref: string;
}

/** The command section of a receive-pack request, and the raw bytes read to get it. */
export interface CommandSection {
  commands: RefCommand[];
  capabilities: string[];
  /** Every byte read from the body so far; forwarded first, followed by the rest of the body. */
  head: Uint8Array;
}

/** Most bytes of commands a push may send before its pack (a push of thousands of refs fits). */
export const MAX_COMMAND_BYTES = 1 << 20;

/** Thrown for a request that is not a well-formed receive-pack command list. */
export class ProtocolError extends Error {}

const ZERO = /^0{40}(0{24})?$/;

/** True for the all-zero object id (ref creation or deletion). */
export function isZeroOid(oid: string): boolean {
  return ZERO.test(oid);
}

/**
 * Reads pkt-lines from `reader` up to the flush that ends the command list. Shallow lines are
 * skipped; push certificates (signed pushes) are refused, since their commands sit inside the cert.
 */
export async function readCommands(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<CommandSection> {
  let buf = new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  let pos = 0;
  const need = async (n: number): Promise<boolean> => {
    while (buf.length - pos < n) {
      const { value, done } = await reader.read();
      if (done) return false;
      chunks.push(value);
      total += value.length;
      if (total > MAX_COMMAND_BYTES) throw new ProtocolError('the command list is too long');
      const next = new Uint8Array(buf.length - pos + value.length);
      next.set(buf.subarray(pos));
      next.set(value, buf.length - pos);
      buf = next;
      pos = 0;
    }
    return true;
  };
  const commands: RefCommand[] = [];
  let capabilities: string[] = [];
  for (;;) {
    if (!(await need(4))) throw new ProtocolError('truncated pkt-line');
    const len = parseInt(dec.decode(buf.subarray(pos, pos + 4)), 16);
    if (Number.isNaN(len)) throw new ProtocolError('bad pkt-line length');
    pos += 4;
    if (len === 0) break; // flush: the pack (if any) follows
    if (len < 4) throw new ProtocolError('bad pkt-line length');
    if (!(await need(len - 4))) throw new ProtocolError('truncated pkt-line');
    let line = dec.decode(buf.subarray(pos, pos + len - 4));
    pos += len - 4;
    if (line.endsWith('\n')) line = line.slice(0, -1);
    if (line.startsWith('shallow ')) continue;
    if (line.startsWith('push-cert')) throw new ProtocolError('signed pushes are not supported');
    const nul = line.indexOf('\0');
    if (nul >= 0) {
      capabilities = line.slice(nul + 1).trim().split(' ').filter(Boolean);
      line = line.slice(0, nul);
    }
    const m = /^([0-9a-f]{40}|[0-9a-f]{64}) ([0-9a-f]{40}|[0-9a-f]{64}) (\S+)$/.exec(line);
    if (!m) throw new ProtocolError('malformed ref update command');
    commands.push({ oldOid: m[1], newOid: m[2], ref: m[3] });
  }
  const head = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    head.set(c, o);
    o += c.length;
  }
  return { commands, capabilities, head };
}

/** One pkt-line holding `data`. */
export function pkt(data: string | Uint8Array): Uint8Array {
  const body = typeof data === 'string' ? enc.encode(data) : data;
  const out = new Uint8Array(body.length + 4);
  out.set(enc.encode((body.length + 4).toString(16).padStart(4, '0')));
  out.set(body, 4);
  return out;
}

const FLUSH = enc.encode('0000');

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * A receive-pack result that refuses every command (`ng <ref> <reason>`), so the client's git
 * prints each reason. Wrapped in side-band channel 1 when the client asked for side-band.
 */
export function refusalReport(refusals: { ref: string; reason: string }[], capabilities: string[]): Uint8Array {
  const status = concat([pkt('unpack ok\n'), ...refusals.map((r) => pkt(`ng ${r.ref} ${r.reason.replace(/[\r\n]/g, ' ')}\n`)), FLUSH]);
  if (!capabilities.includes('side-band-64k') && !capabilities.includes('side-band')) return status;
  const max = capabilities.includes('side-band-64k') ? 65515 : 995;
  const frames: Uint8Array[] = [];
  for (let o = 0; o < status.length; o += max) frames.push(pkt(concat([Uint8Array.of(1), status.subarray(o, o + max)])));
  return concat([...frames, FLUSH]);
}
