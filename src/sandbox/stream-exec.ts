// Runs a command in a sandbox and hands its output over as it is printed. In the sandbox each read
// of the command's stdout or stderr is forwarded at once as one base64 line (so bytes arrive
// unchanged; the SDK would decode them as UTF-8), each stream cut at cap+1 bytes; the command runs
// in its own session under a mark, and at the deadline (or on cancel) every marked process is killed.
import { ALIVE_FN, awaitReaders } from './output-readers.ts';
import { SandboxNotFoundError, type CommandHandle } from 'e2b';
import { AppError } from '../errors.ts';
import { fromBase64 } from '../lib/output-pieces.ts';
import { run, type Sandbox } from './provider.ts';

/** What to run: a bash command in `workdir`, at most `timeoutMs`, each stream cut at `capBytes` + 1. */
export interface StreamExecOptions {
  workdir: string;
  command: string;
  timeoutMs: number;
  capBytes: number;
  /** A fresh random mark: the command's processes carry `GS_EXEC=<mark>` in their environment. */
  mark: string;
  /** Ends the run early: the command and everything it started are killed. */
  signal?: AbortSignal;
}

/** How a streamed run ended; `overflow` when the sandbox sent more than a run can, and was cut off. */
export interface StreamExecEnd {
  exitCode: number;
  timedOut: boolean;
  overflow: boolean;
  cancelled: boolean;
}

/** Receives each chunk of output, in order per stream; the run waits for it (backpressure). */
export type ChunkSink = (stream: 'stdout' | 'stderr', bytes: Uint8Array) => Promise<void> | void;

/** Most characters one forwarded line may hold (a 64 KiB read is 87,384 base64 characters). */
const MAX_LINE = 90_000;

/**
 * The runner. `fwd` turns each read of its stdin (dd returns whatever one read got) into a
 * `<tag> <base64>` line; readers and the command carry marks so they can be killed by them.
 */
export function streamExecScript(): string {
  return `cd "$GS_WORKDIR" || exit 1
d="$(mktemp -d)" || exit 1
trap 'rm -rf -- "$d"' EXIT
n=$((GS_CAP + 1)); t=0
mkfifo "$d/o" "$d/e" "$d/t" || exit 1
# A reader: forwards each read of its stdin as one line tagged $2, the first $1 bytes only, then
# drains the rest. Started with GS_FWD set, so it and every process it forks carry the mark.
# shellcheck disable=SC2016  # the reader's text, expanded by the reader
rd='fwd() { local c; while c="$(dd bs=65536 count=1 2>/dev/null | base64 -w0)" && [ -n "$c" ]; do printf "%s %s\\n" "$1" "$c"; done; }
{ stdbuf -o0 head -c "$1" | fwd "$2"; cat > /dev/null; }'
${ALIVE_FN}
# shellcheck disable=SC2086  # a list of pids, split on purpose
killmark() { local p; for _ in 1 2 3 4 5; do p="$(grep -lsxzF "$1" /proc/[0-9]*/environ | cut -d/ -f3)"; [ -z "$p" ] && break; kill -KILL $p 2>/dev/null; done; }
GS_FWD="$GS_MARK" bash -c "$rd" _ "$n" O < "$d/o" & op=$!
GS_FWD="$GS_MARK" bash -c "$rd" _ "$n" E < "$d/e" >&2 & ep=$!
GS_EXEC="$GS_MARK" setsid bash -c "$GS_CMD" < /dev/null > "$d/o" 2> "$d/e" & cp=$!
( read -rt "$GS_TIMEOUT_S" _ <> "$d/t"; : > "$d/timedout"; kill -KILL -- "-$cp" "$cp" ) 2>/dev/null & wp=$!
wait "$cp" 2>/dev/null; rc=$?
kill "$wp" 2>/dev/null
if [ -e "$d/timedout" ]; then t=1; rc=124; killmark "GS_EXEC=$GS_MARK"; fi
# Then the readers are stopped so this script's output ends here.
${awaitReaders('GS_EXEC=$GS_MARK', '"$d/t"')}
killmark "GS_FWD=$GS_MARK"
wait "$op" "$ep" 2>/dev/null
printf '__GS_END rc=%d timeout=%d\\n' "$rc" "$t"`;
}

/** Kills every process whose environment holds one of `marks` (`NAME=value`), in a few rounds. */
export async function killMarked(sbx: Sandbox, marks: string[]): Promise<void> {
  const cmd = `for _ in 1 2 3 4 5; do p="$(grep -lsxzF -e "$GS_M1" -e "$GS_M2" /proc/[0-9]*/environ | cut -d/ -f3)"; [ -z "$p" ] && break; kill -KILL $p 2>/dev/null; done; true`;
  await run(sbx, cmd, { envs: { GS_M1: marks[0] ?? '', GS_M2: marks[1] ?? marks[0] ?? '' }, timeoutMs: 15_000 });
}

/** Splits a stream's text into whole lines, keeping an unfinished one for the next call. */
class Lines {
  #rest = '';
  /** Set when a line grew past MAX_LINE: the sandbox is not sending what the runner prints. */
  overflow = false;

  push(s: string): string[] {
    const parts = (this.#rest + s).split('\n');
    this.#rest = parts.pop() ?? '';
    if (this.#rest.length > MAX_LINE) this.overflow = true;
    return parts;
  }
}

const CHUNK = /^([OE]) ([A-Za-z0-9+/]*={0,2})$/;
const END = /^__GS_END rc=(-?\d+) timeout=([01])$/;

/**
 * Runs `o.command` and passes each chunk of its output to `sink` as it arrives. Anything the
 * sandbox prints that is not the runner's (a login profile's output) is ignored.
 */
export async function streamExec(sbx: Sandbox, o: StreamExecOptions, sink: ChunkSink): Promise<StreamExecEnd> {
  const out = new Lines();
  const err = new Lines();
  let end: { exitCode: number; timedOut: boolean } | undefined;
  let closed = false;
  let handle: CommandHandle | undefined;
  // Chunks are handed on one at a time, in arrival order, whatever the stream.
  let chain: Promise<void> = Promise.resolve();
  let stopped!: (why: 'ended' | 'overflow' | 'cancelled') => void;
  const stop = new Promise<'ended' | 'overflow' | 'cancelled'>((r) => (stopped = r));
  const take = (lines: Lines, text: string) => {
    if (closed) return;
    for (const line of lines.push(text)) {
      const e = END.exec(line);
      if (e && !end) {
        end = { exitCode: Number(e[1]), timedOut: e[2] === '1' };
        chain = chain.then(() => stopped('ended'));
        continue;
      }
      const m = CHUNK.exec(line);
      // stdout carries nothing of the command's after END; stderr may still be delivering.
      if (!m || !m[2] || (end && lines === out)) continue;
      const bytes = fromBase64(m[2]);
      const stream = m[1] === 'O' ? 'stdout' : 'stderr';
      // A sink that fails (the reader went away) cancels the run.
      chain = chain
        .then(() => (closed ? undefined : sink(stream, bytes)))
        .catch(() => {
          closed = true;
          stopped('cancelled');
        });
    }
    if (lines.overflow) {
      closed = true;
      stopped('overflow');
    }
  };
  const onAbort = () => stopped('cancelled');
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (o.signal?.aborted) return { exitCode: -1, timedOut: false, overflow: false, cancelled: true };
    const envs = { GS_WORKDIR: o.workdir, GS_CMD: o.command, GS_CAP: String(o.capBytes), GS_TIMEOUT_S: (o.timeoutMs / 1000).toFixed(3), GS_MARK: o.mark };
    handle = await sbx.commands.run(streamExecScript(), {
      background: true,
      envs,
      // The runner enforces the deadline itself; the provider's timeout is only a backstop.
      timeoutMs: o.timeoutMs + 15_000,
      // Returning the chain makes the SDK wait for the sink: a slow reader slows the stream.
      onStdout: (s) => (take(out, s), chain),
      onStderr: (s) => (take(err, s), chain),
    });
    const h = handle;
    const exited = h.wait().then(
      (r) => r.exitCode,
      (e: unknown) => (e && typeof e === 'object' && 'exitCode' in e ? Number((e as { exitCode: number }).exitCode) : Promise.reject(e)),
    );
    // A killed run's wait rejects after it is no longer awaited.
    exited.catch(() => {});
    const why = await Promise.race([stop, exited.then(() => 'exited' as const)]);
    if (why === 'ended' || why === 'exited') {
      // The runner printed END last; what it printed to stderr before may still be in flight, so
      // its exit (after which nothing more arrives) is awaited briefly.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([exited.catch(() => 0), new Promise((r) => (timer = setTimeout(r, 2000)))]);
      clearTimeout(timer);
      await chain;
      closed = true;
      if (end) return { ...end, overflow: false, cancelled: false };
      const code = await exited.catch(() => -1);
      throw new AppError('SANDBOX_UNAVAILABLE', 'the command runner failed in the sandbox', { internal: `runner exit ${code}: ${h.stderr.slice(-2000)}` });
    }
    closed = true;
    await Promise.all([h.kill().catch(() => false), killMarked(sbx, [`GS_EXEC=${o.mark}`, `GS_FWD=${o.mark}`]).catch(() => {})]);
    return { exitCode: -1, timedOut: false, overflow: why === 'overflow', cancelled: why === 'cancelled' };
  } catch (e) {
    if (e instanceof SandboxNotFoundError) throw new AppError('SANDBOX_UNAVAILABLE', 'the sandbox is gone', { cause: e });
    throw e;
  } finally {
    closed = true;
    o.signal?.removeEventListener('abort', onAbort);
    void handle?.disconnect();
  }
}
