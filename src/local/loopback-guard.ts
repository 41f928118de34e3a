import type { MiddlewareHandler } from "hono";
import { refusal } from "./loopback.mjs";

/**
 * `roadtoll serve`'s API answers only requests addressed to it by its loopback name, from no web page of another
 * origin: with no authorization, a cross-site "simple" POST or a DNS-rebinding page would otherwise start runs
 * or read results. `port` is read per request: it is known once the server listens.
 */
export function loopbackGuard(port: () => number): MiddlewareHandler {
  return async (c, next) => {
    const refused = refusal((name) => c.req.header(name), port());
    if (!refused) return next();
    return c.json({ error: { code: refused.code, message: refused.message } }, refused.status, {
      "cache-control": "no-store",
    });
  };
}
