// What a request to a server of `roadtoll serve` (its API, its embedded S3) must look like to be answered: sent to
// it by its loopback name, not by a page of another origin. Plain JavaScript: the S3 worker (s3-worker.mjs)
// loads it as it is.

const NAMES = ["127.0.0.1", "localhost", "[::1]"];

/** The Host values a loopback server on `port` answers to; any other is a DNS-rebinding page's, or misdirected. */
export function loopbackHosts(port) {
  return NAMES.map((name) => `${name}:${port}`);
}

/**
 * Why a request must be refused, or undefined: a Host that is not this server's, an Origin other than its own (a
 * browser sends one with every cross-origin request and every POST), or a Sec-Fetch-Site that says another site
 * made it. `headers` reads one header by its lower-case name. With `anyPort`, a Host may name another port (a
 * proxy in front forwards the Host it was sent); only its name must be a loopback one, which a rebound DNS name
 * never is.
 */
export function refusal(headers, port, { anyPort = false } = {}) {
  const hosts = loopbackHosts(port);
  const host = (headers("host") ?? "").toLowerCase();
  const named = anyPort ? NAMES.includes(host.replace(/:\d+$/, "")) : hosts.includes(host);
  if (!named) {
    return {
      status: 421,
      code: "MisdirectedRequest",
      message: `this server answers to ${hosts.join(", ")} only`,
    };
  }
  const origin = headers("origin");
  if (origin !== undefined && !hosts.some((allowed) => origin.toLowerCase() === `http://${allowed}`)) {
    return {
      status: 403,
      code: "ForbiddenOrigin",
      message: "requests from web pages of another origin are refused",
    };
  }
  const site = headers("sec-fetch-site");
  if (site === "cross-site" || site === "same-site") {
    return {
      status: 403,
      code: "ForbiddenOrigin",
      message: "requests from web pages of another site are refused",
    };
  }
  return undefined;
}
