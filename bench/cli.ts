// Command-line flags of `npm run bench` and the scenario matrix they select.
import { parseArgs } from 'node:util';
import type { CapacityOptions } from './capacity/run.ts';
import type { ScenarioSpec } from './scenario.ts';

/** Parsed options. */
export interface BenchOptions {
  shapes: { agents: number; repos: number }[];
  rounds: number;
  modes: ('pooled' | 'direct')[];
  createLatencyMs: number;
  createPerSec: number;
  poolCap: number;
  retries: number;
  thinkMs: number;
  floor: boolean;
  nolockFloorMax: number;
  calibration: boolean;
  prewarmRepos: boolean;
  scenarioTimeoutS: number;
  totalTimeoutS: number;
  out?: string;
  keepTmp: boolean;
  /** --profile-cpu: CPU-profile the Worker's isolate over each scenario's agents. */
  profileCpu: boolean;
  /** `--capacity`: coordinator and lock throughput in workerd; null when not asked for. */
  capacity: CapacityOptions | null;
  /** Run the capacity measurement only (no floors, calibration or scenarios). */
  capacityOnly: boolean;
  /** `--sizing`: a fixed pool against demand sizing on the same workload; null when not asked for. */
  sizing: SizingOptions | null;
  /** Run the pool-sizing comparison only. */
  sizingOnly: boolean;
}

/** The pool-sizing comparison: `agents` with think time, after a warm-up round, against POOL_MIN=POOL_MAX=fixed and demand sizing (POOL_MIN=1, POOL_MAX=fixed). */
export interface SizingOptions {
  agents: number;
  rounds: number;
  fixed: number;
  thinkMs: number;
}

export const USAGE = `npm run bench -- [flags]

  --agents N[,N…]          simulated agents per scenario (default matrix: 10x1, 100x1, 100x10)
  --repos R[,R…]           repositories the agents spread over (agent i → repo i mod R; default 1)
  --rounds K               tasks per agent (lease → write → push to base → release); K ≥ 2 shows reuse (default 2)
  --mode pooled|direct|both                                                      (default both)
  --create-latency-ms L    modelled sandbox create latency of the local E2B host (default 500)
  --create-per-sec C       CREATE_PER_SEC of the Worker (default 5, E2B Pro's limit)
  --no-prewarm-repos       pooled scenarios leave PREWARM_REPOS empty (default: the scenario's repos, so warm
                           members hold a clone before the first lease)
  --pool-cap P             upper bound on POOL_MIN (POOL_MIN = min(agents, P); default 200)
  --think-ms T             modelled think time: agents start spread over T ms and wait T ±50 % between write
                           and push, holding the lease (default 0: every step back to back, a worst-case burst)
  --retries N              agent retries of retryable answers, honouring Retry-After (default 2)
  --no-floor               skip the plain-git floors
  --nolock-floor-max M     also run the lock-free floor (plain git, retry + backoff, no lock) for shapes
                           with at most M agents (default 10; 0 = never)
  --no-calibration         skip the uncontended calibration (1 agent × 10 rounds, pooled: the service's own push
                           and lease cost without queueing, next to one plain-git clone doing the same)
  --scenario-timeout-s S   time limit of one scenario's agents (default 600)
  --total-timeout-s S      time limit of the whole run (default 3600)
  --out DIR                logs and results (default bench/results/<timestamp>)
  --keep-tmp               keep the scratch directory (stack state, DO state)
  --profile-cpu            CPU-profile the Worker's isolate while each scenario's agents run
                           (<out>/scenario-*.cpuprofile, hottest functions in the log)

  --capacity               also measure one PoolCoordinator's grant/release rate and one RepoLock's cycle rate
                           inside workerd, sandbox side stubbed (JSON key "capacity")
  --capacity-only          the capacity measurement alone (no floors, calibration or scenarios)
  --capacity-agents N[,N…] concurrent agents per coordinator level (default 100,500,1000,2000,5000)
  --capacity-members M[,M…]  pool sizes to run the smallest agent level against (default 100,1000,5000)
  --capacity-shards K[,K…] coordinators the largest level is spread over, each in its own workerd process with
                           its share of the agents, run side by side (default 1,2,4)
  --capacity-scrubber stub|sdk  what answers a release's scrub (default stub: the MemberScrubber answers clean at
                           once, the sandbox side out; sdk: the real MemberScrubber, its e2b SDK calls to the
                           provider stub on the coordinator's workerd thread)
  --capacity-lock-agents N[,N…]  concurrent users of one RepoLock (default 1,10,100,1000; 1 = uncontended)
  --capacity-duration-s S  measuring window per level (default 20)
  --capacity-warmup-s W    time before the window, so the initial burst on idle members is left out (default 5)
  --capacity-log-level L   LOG_LEVEL of the capacity Worker (default warn: at info wrangler dev's console formats
                           three objects per cycle in the isolate, a dev-runtime cost that would dominate)
  --capacity-persist tmpfs|disk  where the capacity Worker keeps Durable Object state (default tmpfs: /dev/shm,
                           so the local disk's fsync latency is not on every commit)
  --capacity-profile       CPU-profile the Worker's isolate over each capacity run (<out>/capacity-*.cpuprofile,
                           hottest functions in the JSON)

  --sizing                 also compare a fixed pool (POOL_MIN=POOL_MAX=F) with demand sizing (POOL_MIN=1,
                           POOL_MAX=F) on one workload: idle sandbox-seconds per task at the warm hit rate of each
  --sizing-only            the sizing comparison alone
  --sizing-agents N        agents of the comparison (default 4), one repo, each after one unmeasured warm-up round
  --sizing-rounds K        measured rounds per agent (default 4)
  --sizing-fixed F         the fixed pool's size and the demand pool's POOL_MAX (default 10)
  --sizing-think-ms T      the agents' think time in the comparison (default 3000)

Output: a table on stdout, then one JSON line (the last line).`;

const ints = (s: string, flag: string): number[] =>
  s.split(',').map((x) => {
    const n = Number(x.trim());
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: expected positive integers, got ${JSON.stringify(s)}`);
    return n;
  });

const num = (s: string | undefined, def: number, flag: string, min = 0): number => {
  if (s === undefined) return def;
  const n = Number(s);
  if (!Number.isFinite(n) || n < min) throw new Error(`${flag}: expected a number ≥ ${min}, got ${JSON.stringify(s)}`);
  return n;
};

const logLevel = (s: string | undefined): string => {
  if (s === undefined) return 'warn';
  if (!['debug', 'info', 'warn', 'error'].includes(s)) throw new Error(`--capacity-log-level: expected debug, info, warn or error, got ${JSON.stringify(s)}`);
  return s;
};

/** A flag that takes one of two words; the first is the default. */
const either = <A extends string, B extends string>(flag: string, a: A, b: B) => (s: string | undefined): A | B => {
  if (s === undefined) return a;
  if (s !== a && s !== b) throw new Error(`${flag}: expected ${a} or ${b}, got ${JSON.stringify(s)}`);
  return s as A | B;
};
const persist = either('--capacity-persist', 'tmpfs', 'disk');
const scrubber = either('--capacity-scrubber', 'stub', 'sdk');

/** The --capacity options; null without --capacity, and an error when a --capacity-* flag comes alone. */
function capacity(values: Record<string, string | boolean | undefined>): CapacityOptions | null {
  const str = (k: string) => values[k] as string | undefined;
  const on = !!values.capacity || !!values['capacity-only'];
  const stray = Object.keys(values).find((k) => k.startsWith('capacity-') && k !== 'capacity-only' && values[k] !== undefined);
  if (!on && stray) throw new Error(`--${stray} needs --capacity or --capacity-only`);
  if (!on) return null;
  return {
    agents: str('capacity-agents') ? ints(str('capacity-agents')!, '--capacity-agents') : [100, 500, 1000, 2000, 5000],
    members: str('capacity-members') ? ints(str('capacity-members')!, '--capacity-members') : [100, 1000, 5000],
    shards: str('capacity-shards') ? ints(str('capacity-shards')!, '--capacity-shards') : [1, 2, 4],
    scrubber: scrubber(str('capacity-scrubber')),
    lockAgents: str('capacity-lock-agents') ? ints(str('capacity-lock-agents')!, '--capacity-lock-agents') : [1, 10, 100, 1000],
    warmupMs: Math.round(num(str('capacity-warmup-s'), 5, '--capacity-warmup-s') * 1000),
    durationMs: Math.round(num(str('capacity-duration-s'), 20, '--capacity-duration-s', 0.5) * 1000),
    logLevel: logLevel(str('capacity-log-level')),
    profile: !!values['capacity-profile'],
    persist: persist(str('capacity-persist')),
  };
}

/** The --sizing options; null without --sizing, and an error when a --sizing-* flag comes alone. */
function sizing(values: Record<string, string | boolean | undefined>): SizingOptions | null {
  const str = (k: string) => values[k] as string | undefined;
  const on = !!values.sizing || !!values['sizing-only'];
  const stray = Object.keys(values).find((k) => k.startsWith('sizing-') && k !== 'sizing-only' && values[k] !== undefined);
  if (!on && stray) throw new Error(`--${stray} needs --sizing or --sizing-only`);
  if (!on) return null;
  return {
    agents: str('sizing-agents') ? ints(str('sizing-agents')!, '--sizing-agents')[0] : 4,
    rounds: str('sizing-rounds') ? ints(str('sizing-rounds')!, '--sizing-rounds')[0] : 4,
    fixed: str('sizing-fixed') ? ints(str('sizing-fixed')!, '--sizing-fixed')[0] : 10,
    thinkMs: num(str('sizing-think-ms'), 3000, '--sizing-think-ms'),
  };
}

/** Parses argv; throws with a message on bad input; null means --help. */
export function parseCli(argv: string[]): BenchOptions | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      agents: { type: 'string' },
      repos: { type: 'string' },
      rounds: { type: 'string' },
      mode: { type: 'string' },
      'create-latency-ms': { type: 'string' },
      'create-per-sec': { type: 'string' },
      'pool-cap': { type: 'string' },
      retries: { type: 'string' },
      'think-ms': { type: 'string' },
      'no-floor': { type: 'boolean' },
      'nolock-floor-max': { type: 'string' },
      'no-calibration': { type: 'boolean' },
      'no-prewarm-repos': { type: 'boolean' },
      'scenario-timeout-s': { type: 'string' },
      'total-timeout-s': { type: 'string' },
      out: { type: 'string' },
      'keep-tmp': { type: 'boolean' },
      capacity: { type: 'boolean' },
      'capacity-only': { type: 'boolean' },
      'capacity-agents': { type: 'string' },
      'capacity-shards': { type: 'string' },
      'capacity-scrubber': { type: 'string' },
      'profile-cpu': { type: 'boolean' },
      'capacity-members': { type: 'string' },
      'capacity-lock-agents': { type: 'string' },
      'capacity-duration-s': { type: 'string' },
      'capacity-warmup-s': { type: 'string' },
      'capacity-log-level': { type: 'string' },
      'capacity-profile': { type: 'boolean' },
      'capacity-persist': { type: 'string' },
      sizing: { type: 'boolean' },
      'sizing-only': { type: 'boolean' },
      'sizing-agents': { type: 'string' },
      'sizing-rounds': { type: 'string' },
      'sizing-fixed': { type: 'string' },
      'sizing-think-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return null;
  const mode = values.mode ?? 'both';
  if (!['pooled', 'direct', 'both'].includes(mode)) throw new Error(`--mode: expected pooled, direct or both, got ${JSON.stringify(mode)}`);
  let shapes: { agents: number; repos: number }[];
  if (values.agents === undefined && values.repos === undefined) {
    shapes = [{ agents: 10, repos: 1 }, { agents: 100, repos: 1 }, { agents: 100, repos: 10 }];
  } else {
    const agents = values.agents ? ints(values.agents, '--agents') : [10, 100];
    const repos = values.repos ? ints(values.repos, '--repos') : [1];
    shapes = agents.flatMap((a) => repos.map((r) => ({ agents: a, repos: r })));
  }
  return {
    shapes,
    rounds: values.rounds ? ints(values.rounds, '--rounds')[0] : 2,
    modes: mode === 'both' ? ['pooled', 'direct'] : [mode as 'pooled' | 'direct'],
    createLatencyMs: num(values['create-latency-ms'], 500, '--create-latency-ms'),
    createPerSec: num(values['create-per-sec'], 5, '--create-per-sec', 0.1),
    poolCap: num(values['pool-cap'], 200, '--pool-cap', 0),
    retries: Math.floor(num(values.retries, 2, '--retries')),
    thinkMs: num(values['think-ms'], 0, '--think-ms'),
    floor: !values['no-floor'],
    calibration: !values['no-calibration'],
    prewarmRepos: !values['no-prewarm-repos'],
    nolockFloorMax: Math.floor(num(values['nolock-floor-max'], 10, '--nolock-floor-max')),
    scenarioTimeoutS: num(values['scenario-timeout-s'], 600, '--scenario-timeout-s', 1),
    totalTimeoutS: num(values['total-timeout-s'], 3600, '--total-timeout-s', 1),
    out: values.out,
    keepTmp: !!values['keep-tmp'],
    profileCpu: !!values['profile-cpu'],
    capacity: capacity(values),
    capacityOnly: !!values['capacity-only'],
    sizing: sizing(values),
    sizingOnly: !!values['sizing-only'],
  };
}

/** The two scenarios of the pool-sizing comparison: the same workload on a fixed pool and on demand sizing. */
export function sizingScenarios(z: SizingOptions): ScenarioSpec[] {
  const base = { mode: 'pooled' as const, agents: z.agents, repos: 1, rounds: z.rounds, warmupRounds: 1, thinkMs: z.thinkMs };
  return [
    { ...base, name: `${z.agents}x1 sizing fixed`, vars: { POOL_MIN: String(z.fixed), POOL_MAX: String(z.fixed), MAX_SANDBOXES: String(z.fixed + z.agents + 1) } },
    { ...base, name: `${z.agents}x1 sizing demand`, vars: { POOL_MIN: '1', POOL_MAX: String(z.fixed), MAX_SANDBOXES: String(z.fixed + z.agents + 1) } },
  ];
}

/** The service scenarios in run order: per shape, pooled then direct. */
export function scenarios(o: BenchOptions): ScenarioSpec[] {
  return o.shapes.flatMap((s) => o.modes.map((mode) => ({ name: `${s.agents}x${s.repos} ${mode}`, mode, agents: s.agents, repos: s.repos, rounds: o.rounds })));
}
