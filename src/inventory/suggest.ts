/** Edit distance; small inputs only (setting names), so the simple O(n·m) table is plenty. */
function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * The closest known name, if close enough to be a typo. Case is ignored because the seed mixes
 * UPPER_CASE environment settings with lower_case vars and people mistype either.
 */
export function closest(name: string, known: Iterable<string>): string | undefined {
  const lower = name.toLowerCase();
  const threshold = Math.max(2, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    // The distance is at least the difference in length: a long name is no typo of a short one,
    // and need not cost its length squared to find out.
    if (Math.abs(candidate.length - name.length) > threshold) continue;
    const d = levenshtein(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= threshold ? best : undefined;
}

export function didYouMean(name: string, known: Iterable<string>): string {
  const guess = closest(name, known);
  return guess ? `; did you mean "${guess}"?` : '';
}
