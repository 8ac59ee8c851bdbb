// The environment of every git command the service runs in a sandbox: hooks, fsmonitor, global and
// system config, credential helpers and non-http transports off; the gateway credential (and a
// lander's fencing token) travel only here, per command, never read back from the sandbox.

/** What one service git command may carry to the gateway. */
export interface ServiceGitOptions {
  /** `Authorization` header value for the gateway (the lease's own credential). */
  authorization?: string;
  /** The RepoLock fencing token a lander presents when it moves the base branch. */
  fence?: number;
}

/** Env vars for a service git command in a sandbox. */
export function serviceGitEnv(o: ServiceGitOptions = {}): Record<string, string> {
  const config: [string, string][] = [
    // /dev/null is not a directory, so no hook can ever be found there.
    ['core.hooksPath', '/dev/null'],
    ['core.fsmonitor', 'false'],
    ['core.sshCommand', 'false'],
    ['credential.helper', ''],
    ['transfer.credentialsInUrl', 'die'],
    ['protocol.allow', 'never'],
    ['protocol.http.allow', 'always'],
    ['protocol.https.allow', 'always'],
    // An empty value resets the list, so headers from the sandbox's own config are dropped.
    ['http.extraHeader', ''],
  ];
  if (o.authorization) config.push(['http.extraHeader', `Authorization: ${o.authorization}`]);
  if (o.fence !== undefined) config.push(['http.extraHeader', `X-Git-Sandbox-Fence: ${o.fence}`]);
  const env: Record<string, string> = {
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_ASKPASS: '',
    GIT_EDITOR: ':',
    GIT_CONFIG_COUNT: String(config.length),
  };
  config.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return env;
}
