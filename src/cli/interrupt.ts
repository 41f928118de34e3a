/** How long stopping may take before the process exits anyway (a database that does not close, say). */
const STOP_DEADLINE_MS = 10_000;

/**
 * On the first SIGINT (Ctrl-C) or SIGTERM, runs `stop` (close the servers and the database, which releases the
 * data directory), then exits with 130 or 143 as a shell expects. Node would otherwise die at once, running no
 * exit handler, and leave the lock file and the upload parts behind. A second signal exits at once. Gives the
 * function that removes the handlers, for when the work is done.
 */
export function onInterrupt(stop: (signal: NodeJS.Signals) => Promise<void>): () => void {
  const handle = (signal: NodeJS.Signals) => {
    remove();
    const code = signal === "SIGINT" ? 130 : 143;
    const now = () => process.exit(code);
    process.once("SIGINT", now);
    process.once("SIGTERM", now);
    setTimeout(now, STOP_DEADLINE_MS).unref();
    stop(signal).finally(now);
  };
  const remove = () => {
    process.off("SIGINT", handle);
    process.off("SIGTERM", handle);
  };
  process.once("SIGINT", handle);
  process.once("SIGTERM", handle);
  return remove;
}
