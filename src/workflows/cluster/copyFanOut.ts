import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  uuid4,
} from '@temporalio/workflow';
import {
  afterWave,
  nextWave,
  type Copy,
  type FanOutSettings,
  type WaveOutcome,
  type WaveState,
} from '../../plan/syncWaves';
import type { Plan } from '../../plan/types';
import type { HostRef } from '../../shared/host';
import { hostError, hostRef, settleBounded, type HostError } from '../common';
import { copyNote, type StepActivities } from './hostSteps';
import { imageArchiveInput, planHost, syncCodeInput } from './steps';

/** The failure type of a relay whose sending end failed (src/activities/relay.ts). */
const RELAY_SENDER_FAILED = 'RelaySenderFailed';

/** Where a fan-out reports each host's progress: the cluster's table, or a child's outcomes. */
export interface FanOutDriver {
  acts: StepActivities;
  plan: Plan;
  parallelism: number;
  running(host: string): void;
  done(host: string, note: string): void;
  failed(host: string, error: HostError): void;
}

/** `fanOut` copies per sender; 0: every host from the executor, all in one wave. */
export function fanOutSettings(fanOut: number, hosts: number): FanOutSettings {
  return fanOut > 0
    ? { executorSlots: fanOut, relaySlots: fanOut }
    : { executorSlots: Math.max(1, hosts), relaySlots: 0 };
}

/** What a fan-out copies: the code tree (sync_code) or the image archive (run_docker). */
export type FanOutArtefact = 'code' | 'imageArchive';

/**
 * A copy as a fan-out (issue 16): the executor copies the artefact to a few hosts, and each
 * host that has it sends it on, wave after wave (src/plan/syncWaves.ts), so the executor makes O(log N)
 * copies instead of N. A host-to-host copy is tried once: if it fails, its receiver gets a direct
 * copy from the executor in the next wave, and a sender that failed relays no more. A direct copy
 * that fails is the host's failure, reported as any step's. The session's key leaves every host
 * it reached when the fan-out ends, however it ends (cancellation included). `holders` have the
 * tree already (they finished earlier in the deploy) and relay from the start.
 */
export async function copyFanOut(
  d: FanOutDriver,
  artefact: FanOutArtefact,
  hosts: readonly string[],
  holders: readonly string[],
  settings: FanOutSettings,
): Promise<void> {
  const run = new FanOutRun(d, artefact);
  let state: WaveState = { pending: [...hosts], holders: [...holders], direct: [] };
  try {
    while (state.pending.length > 0 && run.cancelled === undefined) {
      const outcomes: WaveOutcome[] = [];
      await settleBounded(nextWave(state, settings), d.parallelism, async (copy) => {
        const outcome = await run.copy(copy);
        if (outcome) outcomes.push(outcome);
      });
      state = afterWave(state, outcomes);
    }
  } finally {
    await run.endSession(hosts[0] ?? holders[0]!);
  }
  if (run.cancelled !== undefined) throw run.cancelled;
}

/** One fan-out's relay session: the hosts it touched and the first cancellation it saw. */
class FanOutRun {
  readonly session: string;
  readonly phase: 'sync_code' | 'run_docker';
  private readonly senders = new Set<string>();
  private readonly receivers = new Set<string>();
  cancelled: unknown;

  constructor(
    private readonly d: FanOutDriver,
    private readonly artefact: FanOutArtefact,
  ) {
    this.session = `${d.plan.cluster}@${uuid4().replace(/-/g, '').slice(0, 12)}`;
    this.phase = artefact === 'code' ? 'sync_code' : 'run_docker';
  }

  private ref(name: string): HostRef {
    return hostRef(this.d.plan, planHost(this.d.plan, name));
  }

  /** One copy; undefined when it was cancelled (the fan-out stops after this wave). */
  async copy(copy: Copy): Promise<WaveOutcome | undefined> {
    const to = copy.to;
    const from = copy.from.kind === 'host' ? copy.from.host : undefined;
    this.d.running(to);
    try {
      const note = await this.transfer(to, from);
      this.d.done(to, from === undefined ? note : `${note} from ${from}`);
      return { copy, ok: true };
    } catch (err) {
      if (isCancellation(err)) {
        this.cancelled ??= err;
        return undefined;
      }
      if (from === undefined) {
        this.d.failed(to, hostError(err));
        return { copy, ok: false };
      }
      const cause = err instanceof ActivityFailure ? err.cause : err;
      const senderFailed = cause instanceof ApplicationFailure && cause.type === RELAY_SENDER_FAILED;
      return { copy, ok: false, failedSide: senderFailed ? 'sender' : 'receiver' };
    }
  }

  /** The copy's activity: from the executor, or relayed from `from` (tried once). Its note. */
  private async transfer(to: string, from: string | undefined): Promise<string> {
    const d = this.d;
    const plan = d.plan;
    let relay: { source: HostRef; session: string } | undefined;
    if (from !== undefined) {
      this.senders.add(from);
      this.receivers.add(to);
      relay = { source: this.ref(from), session: this.session };
    }
    const acts =
      relay === undefined
        ? d.acts.executorActivities(to, this.phase)
        : d.acts.activities(to, this.phase, {
            taskQueue: d.acts.executorTaskQueue,
            // The retry of a host-to-host copy is the executor's direct copy.
            retry: { maximumAttempts: 1 },
          });
    if (this.artefact === 'code') {
      return copyNote(await acts.syncCode({ ...syncCodeInput(plan, to), ...(relay && { relay }) }));
    }
    const copied = await acts.copyImageArchive({ ...imageArchiveInput(plan, to), ...(relay && { relay }) });
    return copyNote({ installed: false, ...copied });
  }

  /** The session's key leaves every host it reached, even when the fan-out is being cancelled. */
  async endSession(anyHost: string): Promise<void> {
    if (this.senders.size === 0 && this.receivers.size === 0) return;
    await CancellationScope.nonCancellable(() =>
      this.d.acts
        .executorActivities(anyHost, this.phase)
        .endRelaySession({
          session: this.session,
          senders: [...this.senders].map((h) => this.ref(h)),
          receivers: [...this.receivers].map((h) => this.ref(h)),
        })
        .catch(() => undefined),
    );
  }
}
