// Imported first by main.ts, before any module that needs a newer Node (undici, the AWS SDK): on an older Node
// they fail deep inside with a TypeError. Keep this file free of imports. bin/roadtoll.mjs checks the same way
// before it loads TypeScript.
const MINIMUM = [22, 19, 0] as const;

const running = process.versions.node.split(".").map((part) => Number.parseInt(part, 10));
const tooOld = (() => {
  for (const [index, minimum] of MINIMUM.entries()) {
    const part = running[index] ?? 0;
    if (part !== minimum) return part < minimum;
  }
  return false;
})();

if (tooOld) {
  process.stderr.write(
    `roadtoll needs Node.js ${MINIMUM.join(".")} or newer (package.json "engines"); this is Node.js ${process.versions.node}.\n` +
      "Install Node 22 (`nvm install` reads .nvmrc) and run again.\n",
  );
  process.exit(1);
}
