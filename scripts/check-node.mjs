// Node's version, checked before anything else: by `npm ci`/`npm install` (the preinstall script), by
// bin/roadtoll.mjs and by src/cli/main.ts. On an older Node the dependencies fail deep inside with a TypeError, and
// npm's own engine check says nothing of how to get a newer one. Plain JavaScript that any Node runs.
const MINIMUM = [22, 19, 0];

const running = process.versions.node.split(".").map((part) => Number.parseInt(part, 10));
const tooOld = (() => {
  for (let index = 0; index < MINIMUM.length; index++) {
    const part = running[index] ?? 0;
    if (part !== MINIMUM[index]) return part < MINIMUM[index];
  }
  return false;
})();

if (tooOld) {
  process.stderr.write(
    `roadtoll needs Node.js ${MINIMUM.join(".")} or newer (package.json "engines"); this is Node.js ${process.versions.node}.\n` +
      "Get it with nvm (`nvm install` reads .nvmrc), or with npm alone, which fetches Node 22 for the command:\n" +
      "  npx -y -p node@22 npm ci\n" +
      "  npx -y -p node@22 npm start\n\n",
  );
  process.exit(1);
}
