/**
 * The known word closest to `word` (at most two edits away, and fewer than half its letters), for "did you mean":
 * `result` → `results`, `--soruce` → `--source`. Undefined when none is that close.
 */
export function closest(word: string, known: readonly string[]): string | undefined {
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance <= 2 && distance < Math.ceil(word.length / 2) && (!best || distance < best.distance)) {
      best = { candidate, distance };
    }
  }
  return best?.candidate;
}

/** node:util's "Unknown option '--x'" message, with the closest known option when there is one. */
export function withOptionSuggestion(message: string, options: readonly string[]): string {
  const unknown = /^Unknown option '(-{1,2}[^'=]+)/.exec(message)?.[1];
  const first = message.split("\n")[0] ?? message;
  if (!unknown) return first;
  const match = closest(
    unknown,
    options.map((name) => `--${name}`),
  );
  return `unknown option ${unknown}${match ? `; did you mean ${match}?` : ""}`;
}

/** Levenshtein distance with transpositions counted as one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = rows[i] as number[];
      const above = rows[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(
        (above[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (above[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j] as number, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      }
    }
  }
  return (rows[a.length] as number[])[b.length] as number;
}
