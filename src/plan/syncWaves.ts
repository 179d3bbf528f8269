/**
 * The fan-out schedule of a code copy: instead of the executor sending the tree to every host
 * (N copies through one machine's CPU and uplink), it sends to a few hosts, and every host that
 * has the tree sends it on — in waves, so the hosts holding it roughly double each wave and the
 * executor's work is O(log N) copies.
 *
 * Pure and deterministic (the workflow computes each wave from what the previous one achieved):
 * - a copy that failed puts its target back among the pending hosts;
 * - a relay that failed to send is never asked again, and the hosts it should have served are
 *   owed a direct copy from the executor (the fallback never depends on another relay);
 * - a host that failed to receive is retried from the executor too: its trouble may be its own
 *   link, and the executor's copy says so with the clearest error.
 */

/** Who sends: the executor (the machine with the checkout) or a host that already has the tree. */
export type CopySource = { kind: 'executor' } | { kind: 'host'; host: string };

export interface Copy {
  from: CopySource;
  to: string;
}

export interface FanOutSettings {
  /** Copies the executor runs at once. */
  executorSlots: number;
  /** Copies a host that has the tree sends on at once. */
  relaySlots: number;
}

/** Two direct copies at a time, each holder passing it on to two: 3× the holders per wave. */
export const DEFAULT_FAN_OUT: FanOutSettings = { executorSlots: 2, relaySlots: 2 };

export interface WaveState {
  /** Hosts that still need the tree, in Plan order. */
  pending: readonly string[];
  /** Hosts that have the tree and may pass it on, in the order they got it. */
  holders: readonly string[];
  /** Hosts that must be served by the executor (their relay failed, or they failed to receive once). */
  direct: readonly string[];
}

/**
 * The copies of the next wave: the executor serves the hosts owed a direct copy first, then the
 * first pending hosts; each holder takes the next pending hosts, relaySlots at a time. Empty when
 * nothing is pending.
 */
export function nextWave(state: WaveState, settings: FanOutSettings = DEFAULT_FAN_OUT): Copy[] {
  assertSettings(settings);
  const direct = new Set(state.direct);
  const owedDirect = state.pending.filter((h) => direct.has(h));
  const open = state.pending.filter((h) => !direct.has(h));
  const copies: Copy[] = [];
  // Every host owed a direct copy is served in this wave, even beyond executorSlots: waiting
  // for a slot would put the fallback behind the healthy fan-out it is there to replace.
  for (const to of owedDirect) copies.push({ from: { kind: 'executor' }, to });
  for (let slot = owedDirect.length; slot < settings.executorSlots && open.length > 0; slot++) {
    copies.push({ from: { kind: 'executor' }, to: open.shift()! });
  }
  for (const host of state.holders) {
    for (let slot = 0; slot < settings.relaySlots && open.length > 0; slot++) {
      copies.push({ from: { kind: 'host', host }, to: open.shift()! });
    }
  }
  return copies;
}

export interface WaveOutcome {
  copy: Copy;
  ok: boolean;
  /** When !ok: whether the sender is to blame (it could not start or reach anyone) or the receiver. */
  failedSide?: 'sender' | 'receiver';
}

/**
 * The state after a wave: the targets of successful copies join the holders; a failed relay is
 * dropped from the holders and its target owed a direct copy; a failed receive leaves the target
 * pending, owed a direct copy. A failed direct copy is the host's own failure: it leaves the
 * pending list (the caller reports it) rather than being tried forever.
 */
export function afterWave(
  state: WaveState,
  outcomes: readonly WaveOutcome[],
): WaveState & { failed: string[] } {
  const received = new Set(outcomes.filter((o) => o.ok).map((o) => o.copy.to));
  const failedDirect = new Set(
    outcomes.filter((o) => !o.ok && o.copy.from.kind === 'executor').map((o) => o.copy.to),
  );
  const deadRelays = new Set(
    outcomes
      .filter((o) => !o.ok && o.copy.from.kind === 'host' && o.failedSide === 'sender')
      .map((o) => (o.copy.from as { host: string }).host),
  );
  const owedDirect = new Set(state.direct);
  for (const o of outcomes) if (!o.ok && o.copy.from.kind === 'host') owedDirect.add(o.copy.to);
  const holders = [
    ...state.holders.filter((h) => !deadRelays.has(h)),
    ...state.pending.filter((h) => received.has(h)),
  ];
  const pending = state.pending.filter((h) => !received.has(h) && !failedDirect.has(h));
  return {
    pending,
    holders,
    direct: [...owedDirect].filter((h) => pending.includes(h)),
    failed: state.pending.filter((h) => failedDirect.has(h)),
  };
}

/** The whole schedule when every copy succeeds: what `deploy plan` shows and the tests bound. */
export function fanOutWaves(hosts: readonly string[], settings: FanOutSettings = DEFAULT_FAN_OUT): Copy[][] {
  const waves: Copy[][] = [];
  let state: WaveState = { pending: [...hosts], holders: [], direct: [] };
  while (state.pending.length > 0) {
    const wave = nextWave(state, settings);
    waves.push(wave);
    state = afterWave(
      state,
      wave.map((copy) => ({ copy, ok: true })),
    );
  }
  return waves;
}

function assertSettings(s: FanOutSettings): void {
  if (!Number.isInteger(s.executorSlots) || s.executorSlots < 1)
    throw new RangeError(`executorSlots must be a whole number ≥ 1 (got ${s.executorSlots})`);
  if (!Number.isInteger(s.relaySlots) || s.relaySlots < 0)
    throw new RangeError(`relaySlots must be a whole number ≥ 0 (got ${s.relaySlots})`);
}
