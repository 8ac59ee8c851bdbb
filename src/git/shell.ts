// Shell quoting and the environment that carries the git credential to the askpass helper.

/** Single-quotes a string for bash. */
export function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Path of the askpass helper inside a sandbox, relative to $HOME. */
export const ASKPASS_REL = '.git-sandbox/askpass.sh';

/**
 * The askpass helper: prints the username or the token from per-command env vars, and only when
 * git asks for the allowed host. The file holds no secret.
 */
export const ASKPASS_SCRIPT = `#!/bin/sh
case "$1" in
  *"$GS_GIT_HOST"*) ;;
  *) exit 1 ;;
esac
case "$1" in
  Username*) printf '%s\\n' "$GS_GIT_USER" ;;
  *) printf '%s\\n' "$GS_GIT_TOKEN" ;;
esac
`;

/** Per-command env for git network operations: the token travels only here. */
export function gitEnv(home: string, host: string, user: string, token: string): Record<string, string> {
  return {
    GIT_ASKPASS: `${home}/${ASKPASS_REL}`,
    GIT_TERMINAL_PROMPT: '0',
    GS_GIT_HOST: host,
    GS_GIT_USER: user,
    GS_GIT_TOKEN: token,
    GIT_CONFIG_COUNT: '3',
    GIT_CONFIG_KEY_0: 'credential.helper',
    GIT_CONFIG_VALUE_0: '',
    GIT_CONFIG_KEY_1: 'transfer.credentialsInUrl',
    GIT_CONFIG_VALUE_1: 'die',
    GIT_CONFIG_KEY_2: 'core.askPass',
    GIT_CONFIG_VALUE_2: `${home}/${ASKPASS_REL}`,
  };
}
