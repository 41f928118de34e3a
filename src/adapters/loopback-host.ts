/** A host name or address that never leaves this machine: localhost, 127.0.0.0/8 or ::1 (brackets allowed). */
export function isLoopbackHost(hostname: string | undefined): boolean {
  const host = (hostname ?? "").replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}
