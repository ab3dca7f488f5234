/**
 * Names near a mistyped one (util/schema.ts refuses an unknown key of any options object with it), and
 * the list options that fix a dim.
 */

/** The closest name by edit distance (case-insensitive, also matching on substrings), if near enough. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** The names of the list options of `options` that hold `n` values (the options that fix a dim of size n). */
export function listOptionsOfLength(options: Readonly<Record<string, unknown>>, n: number): string[] {
  return Object.entries(options)
    .filter(([, v]) => Array.isArray(v) && v.length === n)
    .map(([k]) => k);
}
