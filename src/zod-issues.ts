import type * as z from "zod";

/**
 * A zod error's issues on one line, `path: message; …`, for the errors the environment, the events and the API
 * answer with. `where` names what was parsed: it stands for the value itself, and with `qualify` it also prefixes
 * each path (`body.links.0.url`), where one message may be about the body, the query or the path.
 */
export function describeIssues(
  error: z.ZodError,
  where: string,
  options: { qualify?: boolean } = {},
): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.join(".");
      const at = path === "" ? where : options.qualify ? `${where}.${path}` : path;
      return `${at}: ${issue.message}`;
    })
    .join("; ");
}
