// Command output as JSON pieces: UTF-8 text when the bytes are text, base64 when they are not, and
// never a UTF-8 character cut in two between pieces of one stream.

/** One piece of output: `text` when the bytes are valid UTF-8, else `base64` of the bytes. */
export type OutputPiece = { text: string } | { base64: string };

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Standard base64 of bytes. */
export function toBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** Bytes of standard base64 (the caller's own encoding, so malformed input is a bug and throws). */
export function fromBase64(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
}

/** Length of a UTF-8 sequence at the end of `bytes` that its lead byte says is incomplete (0-3). */
export function incompleteTail(bytes: Uint8Array): number {
  for (let i = 1; i <= Math.min(3, bytes.length); i++) {
    const b = bytes[bytes.length - i];
    if ((b & 0xc0) === 0x80) continue;
    // 0xf8-0xff never start a character: the decoder will call them invalid, whatever follows.
    const need = b >= 0xf8 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > i ? i : 0;
  }
  return 0;
}

/** The piece for `bytes`: text when they decode as UTF-8, base64 otherwise. */
export function pieceOf(bytes: Uint8Array): OutputPiece {
  try {
    return { text: strict.decode(bytes) };
  } catch {
    return { base64: toBase64(bytes) };
  }
}

/** Byte length of a piece's content. */
export function pieceBytes(p: OutputPiece): number {
  return 'text' in p ? new TextEncoder().encode(p.text).length : Math.floor((p.base64.length * 3) / 4) - (p.base64.endsWith('==') ? 2 : p.base64.endsWith('=') ? 1 : 0);
}

/**
 * Turns one stream's chunks into pieces: an incomplete character at a chunk's end waits for the
 * next chunk, so text split across reads still comes out as text.
 */
export class PieceSplitter {
  #carry = new Uint8Array(0);

  /** The piece for what `chunk` completes, or null when it only holds part of a character. */
  push(chunk: Uint8Array): OutputPiece | null {
    const all = this.#carry.length ? concat(this.#carry, chunk) : chunk;
    const tail = incompleteTail(all);
    this.#carry = all.slice(all.length - tail);
    const body = all.subarray(0, all.length - tail);
    return body.length ? pieceOf(body) : null;
  }

  /** Whatever is still carried (an incomplete character) as a last piece. */
  flush(): OutputPiece | null {
    const rest = this.#carry;
    this.#carry = new Uint8Array(0);
    return rest.length ? pieceOf(rest) : null;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
