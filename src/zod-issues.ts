import type * as z from "zod";

type Issue = z.core.$ZodIssue;

/**
 * A zod error's issues on one line, `path: message; …`, for the errors the environment, the events and the API
 * answer with. `where` names what was parsed: it stands for the value itself, and with `qualify` it also prefixes
 * each path (`body.links[3].url`), where one message may be about the body, the query or the path.
 *
 * A value that matches no branch of a union is described by the branch it came closest to (the one with the
 * fewest unknown or mistyped keys), so `{"all": false}` reads `all: must be true`, not zod's bare "Invalid
 * input"; unless the union has a message of its own for the value (see `unionMessage`), which then says it.
 */
export function describeIssues(
  error: z.ZodError,
  where: string,
  options: { qualify?: boolean } = {},
): string {
  return flatten(error.issues, [])
    .map(({ path, message }) => {
      const at = formatPath(path);
      return `${at === "" ? where : options.qualify ? `${where}${at.startsWith("[") ? "" : "."}${at}` : at}: ${message}`;
    })
    .join("; ");
}

function flatten(
  issues: readonly Issue[],
  prefix: PropertyKey[],
): Array<{ path: PropertyKey[]; message: string }> {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === "invalid_union" && issue.errors.length > 0 && issue.message === ZOD_UNION_MESSAGE) {
      const closest = issue.errors.reduce((best, branch) =>
        distance(branch) < distance(best) ? branch : best,
      );
      return flatten(closest, path);
    }
    return [{ path, message: issue.message }];
  });
}

/** What zod says of a value no branch of a union takes, unless the union has a message of its own. */
const ZOD_UNION_MESSAGE = "Invalid input";

/**
 * A union's error for a value that names none of its branches' keys (a branch is then no closer than another):
 * `message`. For any other value, zod's own, which describeIssues replaces by the closest branch's issues.
 */
export function unionMessage(keys: readonly string[], message: string) {
  return {
    error: (issue: { input?: unknown }) => {
      const { input } = issue;
      const named =
        input !== null && typeof input === "object" && keys.some((key) => Object.hasOwn(input, key));
      return named ? undefined : message;
    },
  };
}

/** How far a union branch is from the value: its structural issues (keys missing, unknown or of another type). */
function distance(issues: readonly Issue[]): number {
  return issues.filter((issue) => issue.code === "unrecognized_keys" || issue.code === "invalid_type").length;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, index) => (typeof key === "number" ? `[${key}]` : `${index === 0 ? "" : "."}${String(key)}`))
    .join("");
}
