// The .sh files imported by src/git/scripts.ts: bundled as text by wrangler's Text rule (wrangler.toml).
declare module '*.sh' {
  const text: string;
  export default text;
}
