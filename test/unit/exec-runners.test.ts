// The bash runners of streamed exec and background jobs, run with bash against temp dirs (the
// marks, kills and files are the same as in a sandbox), plus shellcheck over each, and the pure
// splitting of output into text and base64 pieces.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { incompleteTail, PieceSplitter, pieceOf } from '../../src/lib/output-pieces.ts';
import { jobKillScript, jobListScript, jobLogsScript, jobRunnerScript, jobStartScript, jobStatusScript } from '../../src/sandbox/job-scripts.ts';
import { streamExecScript } from '../../src/sandbox/stream-exec.ts';
import { execScript } from '../../src/sandbox/exec-script.ts';

vi.setConfig({ testTimeout: 30_000 });

const enc = (s: string) => new TextEncoder().encode(s);
const bytes = (...b: number[]) => new Uint8Array(b);
// worker-configuration.d.ts declares the Worker's vars on NodeJS.ProcessEnv; a child's env holds only these.
const env = (vars: Record<string, string>) => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', ...vars }) as Record<string, string> as NodeJS.ProcessEnv;
const marked = (mark: string) => spawnSync('bash', ['-c', `grep -lsxzF "${mark}" /proc/[0-9]*/environ | wc -l`], { encoding: 'utf8' }).stdout.trim();

describe('output pieces', () => {
  it('finds an incomplete UTF-8 character at the end, and only then', () => {
    expect(incompleteTail(enc('abc'))).toBe(0);
    expect(incompleteTail(enc('é'))).toBe(0);
    expect(incompleteTail(bytes(0x61, 0xc3))).toBe(1);
    expect(incompleteTail(bytes(0xe2, 0x82))).toBe(2);
    expect(incompleteTail(bytes(0xf0, 0x9f, 0x98))).toBe(3);
    expect(incompleteTail(bytes(0xff))).toBe(0);
  });

  it('keeps a character split across chunks as text, and sends bytes that are not UTF-8 as base64', () => {
    const s = new PieceSplitter();
    expect(s.push(bytes(0x61, 0xc3))).toEqual({ text: 'a' });
    expect(s.push(bytes(0xa9, 0x0a))).toEqual({ text: 'é\n' });
    expect(s.push(bytes(0xe2))).toBeNull();
    expect(s.flush()).toEqual({ base64: btoa('\xe2') });
    expect(pieceOf(bytes(0xff, 0xfe, 0x00))).toEqual({ base64: btoa('\xff\xfe\x00') });
  });
});

describe('shellcheck', () => {
  const scripts = { stream: streamExecScript(), 'job start': jobStartScript(), 'job runner': jobRunnerScript(), 'job status': jobStatusScript(), 'job kill': jobKillScript(), 'job logs': jobLogsScript(), 'job list': jobListScript() };
  it.each(Object.entries(scripts))('finds nothing in the %s script', (_name, text) => {
    const r = spawnSync('shellcheck', ['-s', 'bash', '-'], { input: text, encoding: 'utf8' });
    if (r.error) throw r.error;
    expect(r.stdout + r.stderr).toBe('');
  });
});

/** Runs the stream runner; each line of its stdout and stderr with when it arrived. */
function runStream(command: string, over: Record<string, string> = {}): Promise<{ lines: { fd: 'out' | 'err'; line: string; at: number }[]; mark: string }> {
  const mark = `m-${crypto.randomUUID()}`;
  const t0 = Date.now();
  const p = spawn('bash', ['-c', streamExecScript()], { env: env({ GS_WORKDIR: os.tmpdir(), GS_CMD: command, GS_CAP: '1000', GS_TIMEOUT_S: '10', GS_MARK: mark, ...over }) });
  const lines: { fd: 'out' | 'err'; line: string; at: number }[] = [];
  const take = (fd: 'out' | 'err') => {
    let rest = '';
    return (d: Buffer) => {
      const parts = (rest + d.toString()).split('\n');
      rest = parts.pop()!;
      for (const line of parts) lines.push({ fd, line, at: Date.now() - t0 });
    };
  };
  p.stdout.on('data', take('out'));
  p.stderr.on('data', take('err'));
  return new Promise((resolve) => p.on('close', () => resolve({ lines, mark })));
}

/** A PATH whose `stdbuf` starts 3 s late: the output readers of a loaded machine. */
function slowReaders(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gs-slow-'));
  const real = spawnSync('bash', ['-c', 'command -v stdbuf'], { encoding: 'utf8' }).stdout.trim();
  fs.writeFileSync(path.join(dir, 'stdbuf'), `#!/bin/sh\nsleep 3\nexec ${real} "$@"\n`, { mode: 0o755 });
  return `${dir}:${process.env.PATH ?? '/usr/bin:/bin'}`;
}

const chunks = (lines: { line: string }[], tag: string) => lines.filter((l) => l.line.startsWith(`${tag} `)).map((l) => Buffer.from(l.line.slice(2), 'base64').toString()).join('');

describe('the stream runner', () => {
  it('forwards each read as it is printed and ends with the exit status', async () => {
    const { lines } = await runStream('echo first; sleep 1; echo second; echo oops >&2; exit 3');
    const first = lines.find((l) => l.line.startsWith('O ') && chunks([l], 'O') === 'first\n')!;
    const end = lines.find((l) => l.line.startsWith('__GS_END'))!;
    expect(end.line).toBe('__GS_END rc=3 timeout=0');
    expect(end.at - first.at).toBeGreaterThan(900);
    expect(chunks(lines, 'O')).toBe('first\nsecond\n');
    expect(chunks(lines, 'E')).toBe('oops\n');
  });

  it('cuts each stream at GS_CAP + 1 bytes', async () => {
    const { lines } = await runStream("head -c 5000 /dev/zero | tr '\\0' a");
    expect(chunks(lines, 'O')).toBe('a'.repeat(1001));
  });

  it('ends soon after the command even when a process it left holds the output, and stops its readers', async () => {
    const { lines, mark } = await runStream('echo hi; sleep 20 &');
    const end = lines.find((l) => l.line.startsWith('__GS_END'))!;
    expect(end.at).toBeLessThan(8000);
    expect(marked(`GS_FWD=${mark}`)).toBe('0');
    spawnSync('bash', ['-c', `for p in $(grep -lsxzF "GS_EXEC=${mark}" /proc/[0-9]*/environ | cut -d/ -f3); do kill -KILL $p; done`]);
  });

  it('keeps every byte when its readers start late (a loaded machine) and no process of the command is left', async () => {
    const { lines } = await runStream('echo kept; echo also >&2', { PATH: slowReaders() });
    expect(lines.find((l) => l.line.startsWith('__GS_END'))!.line).toBe('__GS_END rc=0 timeout=0');
    expect(chunks(lines, 'O')).toBe('kept\n');
    expect(chunks(lines, 'E')).toBe('also\n');
  });

  it('ends at GS_DRAIN_S when the command leaves a writer with its mark stripped (env -u) to hold its output open', async () => {
    const { lines } = await runStream('echo before; env -u GS_EXEC sleep 61.4242 &', { GS_DRAIN_S: '3' });
    spawnSync('pkill', ['-f', 'sleep 61.4242']);
    const end = lines.find((l) => l.line.startsWith('__GS_END'))!;
    expect(end.line).toBe('__GS_END rc=0 timeout=0');
    expect(end.at).toBeLessThan(8000);
    expect(chunks(lines, 'O')).toBe('before\n');
  });

  it('kills the command and everything it started at the deadline', async () => {
    const { lines, mark } = await runStream('echo started; setsid sleep 30 & sleep 30', { GS_TIMEOUT_S: '0.5' });
    expect(lines.find((l) => l.line.startsWith('__GS_END'))!.line).toBe('__GS_END rc=124 timeout=1');
    expect(chunks(lines, 'O')).toBe('started\n');
    expect(marked(`GS_EXEC=${mark}`)).toBe('0');
  });
});

describe('the exec runner', () => {
  it('keeps every byte when its readers start late (a loaded machine) and no process of the command is left', () => {
    const r = spawnSync('bash', ['-c', execScript()], { env: env({ GS_WORKDIR: os.tmpdir(), GS_CMD: 'git --version >/dev/null; echo 4b1d869f', GS_CAP: '1000', GS_TIMEOUT_S: '10', PATH: slowReaders() }), encoding: 'utf8' });
    expect(r.stdout).toBe('__GS_EXEC rc=0 timeout=0 out=9 err=0\n4b1d869f\n');
  });

  it('ends at GS_DRAIN_S when the command leaves a writer with its mark stripped (env -u) to hold its output open', () => {
    const t0 = Date.now();
    const r = spawnSync('bash', ['-c', execScript()], { env: env({ GS_WORKDIR: os.tmpdir(), GS_CMD: 'echo before; env -u GS_EXEC sleep 61.4343 &', GS_CAP: '1000', GS_TIMEOUT_S: '10', GS_DRAIN_S: '3' }), encoding: 'utf8' });
    spawnSync('pkill', ['-f', 'sleep 61.4343']);
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(r.stdout).toBe('__GS_EXEC rc=0 timeout=0 out=7 err=0\nbefore\n');
  });
});

describe('the job scripts', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'gs-jobs-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  const id = () => `job_${crypto.randomUUID().replace(/-/g, '').slice(0, 24)}`;
  const markers = (text: string) => Object.fromEntries([...text.matchAll(/^__GS_([A-Z_]+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
  const job = (script: string, jobId: string, vars: Record<string, string> = {}) => {
    const r = spawnSync('bash', ['-c', script], { env: env({ GS_JOBS: path.join(root, 'jobs'), GS_JOB_ID: jobId, ...vars }), encoding: 'utf8' });
    return { code: r.status, m: markers(r.stdout) };
  };
  const start = (jobId: string, command: string, timeout = '') => job(jobStartScript(), jobId, { GS_WORKDIR: root, GS_CMD: command, GS_CAP: '100', GS_TIMEOUT_S: timeout });
  const until = async (jobId: string, ok: (m: Record<string, string>) => boolean) => {
    for (let i = 0; i < 100; i++) {
      const { m } = job(jobStatusScript(), jobId);
      if (ok(m)) return m;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the job did not get there');
  };

  it('runs a job detached, keeps its output by offset, and records its exit code', async () => {
    const j = id();
    expect(start(j, 'echo one; echo two >&2; exit 5')).toMatchObject({ code: 0, m: { STARTED: expect.stringMatching(/^\d+$/) } });
    const m = await until(j, (s) => s.EXIT !== '');
    expect(m).toMatchObject({ EXIT: '5', KILLED: '0', TIMEDOUT: '0', OUT: '4', ERR: '4', ALIVE: '0' });
    expect(Buffer.from(m.CMD, 'base64').toString()).toBe('echo one; echo two >&2; exit 5');
    const logs = job(jobLogsScript(), j, { GS_OUT_FROM: '1', GS_ERR_FROM: '0', GS_MAX: '2', GS_CAP: '100' }).m;
    expect(Buffer.from(logs.OUTDATA, 'base64').toString()).toBe('ne');
    expect(Buffer.from(logs.ERRDATA, 'base64').toString()).toBe('tw');
    expect(job(jobListScript(), '').m.JOB_ID).toBe(j);
  });

  it('kills a job with every process it started, and times one out', async () => {
    const j = id();
    start(j, 'setsid sleep 60 & sleep 60');
    await until(j, (s) => s.ALIVE === '1');
    expect(job(jobKillScript(), j).m).toMatchObject({ EXIT: '137', KILLED: '1', ALIVE: '0' });
    expect(marked(`GS_JOB=${j}`)).toBe('0');
    const t = id();
    start(t, 'sleep 60', '0.3');
    expect(await until(t, (s) => s.EXIT !== '')).toMatchObject({ EXIT: '124', TIMEDOUT: '1' });
  });

  it('cuts each stream at GS_CAP + 1 bytes and says there is no such job', async () => {
    const j = id();
    start(j, 'yes');
    await new Promise((r) => setTimeout(r, 300));
    expect(job(jobStatusScript(), j).m.OUT).toBe('101');
    job(jobKillScript(), j);
    expect(job(jobStatusScript(), id())).toEqual({ code: 3, m: { MISSING: '1' } });
  });
});
