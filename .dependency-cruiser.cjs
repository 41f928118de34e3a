// The layers of src/ (ARCHITECTURE.md) and what each may import. Run by `npm run lint`;
// tests/layers.test.ts shows it failing on an upward import. Tests (*.test.ts) may import across layers.

/** Each layer's folders or files, lowest first. */
const LAYERS = {
  base: ["^src/(errors|defaults|map-limited|zod-issues)\\.ts$", "^src/types/"],
  domain: ["^src/domain/"],
  contracts: ["^src/contracts/"],
  adapters: ["^src/adapters/"],
  db: ["^src/db/"],
  analytics: ["^src/analytics/"],
  report: ["^src/report/"],
  pipeline: ["^src/pipeline/"],
  handlers: ["^src/handlers/"],
  api: ["^src/api/"],
  config: ["^src/config\\.ts$"],
  local: ["^src/local/"],
  lambda: ["^src/lambda/"],
  cli: ["^src/cli/"],
};

/** What each layer may import besides itself. Entry points (local, lambda, cli) and config sit on top. */
const BELOW_HANDLERS = ["base", "domain", "contracts", "adapters", "db", "analytics", "report", "pipeline"];
const BELOW_ENTRY_POINTS = [...BELOW_HANDLERS, "handlers", "api", "config"];
const MAY_IMPORT = {
  base: [],
  domain: ["base"],
  contracts: ["base", "domain"],
  adapters: ["base", "domain", "contracts"],
  db: ["base", "domain", "contracts"],
  analytics: ["base"],
  report: ["base", "domain", "contracts", "adapters", "db"],
  pipeline: ["base", "domain", "contracts", "adapters", "db", "analytics", "report"],
  handlers: BELOW_HANDLERS,
  api: [...BELOW_HANDLERS, "handlers"],
  config: [...BELOW_HANDLERS],
  local: BELOW_ENTRY_POINTS,
  lambda: BELOW_ENTRY_POINTS,
  cli: [...BELOW_ENTRY_POINTS, "local"],
};

const TESTS = "\\.test\\.ts$";
const everyLayer = Object.values(LAYERS).flat();

module.exports = {
  forbidden: [
    ...Object.entries(MAY_IMPORT).map(([layer, allowed]) => ({
      name: `${layer}-imports-only-${allowed.length > 0 ? allowed.join("-") : "itself"}`,
      comment: `${layer} may import ${allowed.length > 0 ? allowed.join(", ") : "nothing of src/"} (and itself)`,
      severity: "error",
      from: { path: LAYERS[layer], pathNot: TESTS },
      to: { path: "^src/", pathNot: [layer, ...allowed].flatMap((name) => LAYERS[name]) },
    })),
    {
      name: "every-module-in-a-layer",
      comment: "a module of src/ outside every layer: add it to LAYERS in .dependency-cruiser.cjs",
      severity: "error",
      from: { path: "^src/", pathNot: [...everyLayer, TESTS] },
      to: {},
    },
    {
      name: "no-circular",
      comment: "modules that import each other, directly or through others",
      severity: "error",
      from: { path: "^src/", pathNot: TESTS },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "\\.d\\.mts$" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".mts", ".js", ".mjs"] },
  },
};
