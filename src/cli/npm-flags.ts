/**
 * The command to type when `npm start --json` kept roadtoll's flags for itself: npm takes every flag before `--`
 * as its own configuration, sets `npm_config_<flag>` for the script and passes nothing on, so the run would go
 * ahead silently without them. Undefined when npm kept none (or roadtoll was not started by `npm start`).
 */
export function swallowedByNpm(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  flags: Readonly<Record<string, { type: "string" | "boolean" }>>,
): string | undefined {
  if (env.npm_lifecycle_event !== "start") return undefined;
  const given = new Set(argv.filter((arg) => arg.startsWith("--")).map((arg) => arg.slice(2).split("=")[0]));
  const kept: string[] = [];
  for (const [name, { type }] of Object.entries(flags)) {
    const value = env[`npm_config_${name.replaceAll("-", "_")}`];
    if (name === "help" || given.has(name) || value === undefined || value === "" || value === "false")
      continue;
    kept.push(type === "boolean" ? `--${name}` : `--${name} ${quote(value)}`);
  }
  return kept.length === 0 ? undefined : ["npm start --", ...argv.map(quote), ...kept].join(" ");
}

function quote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}
