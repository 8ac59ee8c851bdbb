// The addresses and credentials of a running embedded stack (plain data, no imports).

/** Everything a client of the stack needs; `api_url`/`api_key` are filled in once a Worker runs. */
export interface StackInfo {
  api_url?: string;
  api_key?: string;
  admin_token: string;
  metrics_token: string;
  git_url: string;
  git_token: string;
  git_root: string;
  demo_repo_url: string;
  e2b_api_url: string;
  e2b_sandbox_url: string;
  e2b_api_key: string;
  database_url: string;
  neon_ws_proxy: string;
  error_encryption_key: string;
  /** The local GitHub App the git server trusts: its id, PKCS#8 private key PEM, and REST base URL. */
  github_app_id: string;
  github_app_private_key: string;
  github_api_url: string;
}
