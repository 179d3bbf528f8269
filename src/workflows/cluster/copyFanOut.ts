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
import type { StepActivities } from './hostSteps';
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
  const plan = d.plan;
  const ref = (name: string): HostRef => hostRef(plan, planHost(plan, name));
  let state: WaveState = { pending: [...hosts], holders: [...holders], direct: [] };
  const session = `${plan.cluster}@${uuid4().replace(/-/g, '').slice(0, 12)}`;
  const senders = new Set<string>();
  const receivers = new Set<string>();
  let cancelled: unknown;
  try {
    while (state.pending.length > 0 && cancelled === undefined) {
      const outcomes: WaveOutcome[] = [];
      await settleBounded(nextWave(state, settings), d.parallelism, async (copy) => {
        const outcome = await runCopy(copy);
        if (outcome) outcomes.push(outcome);
      });
      state = afterWave(state, outcomes);
    }
  } finally {
    if (senders.size > 0 || receivers.size > 0) {
      // Even when the fan-out is being cancelled: a key must not outlive its session.
      await CancellationScope.nonCancellable(() =>
        d.acts
          .executorActivities(hosts[0] ?? holders[0]!, artefact === 'code' ? 'sync_code' : 'run_docker')
          .endRelaySession({
            session,
            senders: [...senders].map(ref),
            receivers: [...receivers].map(ref),
          })
          .catch(() => undefined),
      );
    }
  }
  if (cancelled !== undefined) throw cancelled;

  /** One copy; undefined when it was cancelled (the fan-out stops after this wave). */
  async function runCopy(copy: Copy): Promise<WaveOutcome | undefined> {
    const to = copy.to;
    const from = copy.from.kind === 'host' ? copy.from.host : undefined;
    d.running(to);
    const phase = artefact === 'code' ? 'sync_code' : 'run_docker';
    try {
      let relay: { source: HostRef; session: string } | undefined;
      if (from !== undefined) {
        senders.add(from);
        receivers.add(to);
        relay = { source: ref(from), session };
      }
      const acts =
        relay === undefined
          ? d.acts.executorActivities(to, phase)
          : d.acts.activities(to, phase, {
              taskQueue: d.acts.executorTaskQueue,
              // The retry of a host-to-host copy is the executor's direct copy.
              retry: { maximumAttempts: 1 },
            });
      const note =
        artefact === 'code'
          ? copyNote(await acts.syncCode({ ...syncCodeInput(plan, to), ...(relay && { relay }) }))
          : copyNote({
              installed: false,
              ...(await acts.copyImageArchive({ ...imageArchiveInput(plan, to), ...(relay && { relay }) })),
            });
      d.done(to, from === undefined ? note : `${note} from ${from}`);
      return { copy, ok: true };
    } catch (err) {
      if (isCancellation(err)) {
        cancelled ??= err;
        return undefined;
      }
      if (from === undefined) {
        d.failed(to, hostError(err));
        return { copy, ok: false };
      }
      const cause = err instanceof ActivityFailure ? err.cause : err;
      const senderFailed = cause instanceof ApplicationFailure && cause.type === RELAY_SENDER_FAILED;
      return { copy, ok: false, failedSide: senderFailed ? 'sender' : 'receiver' };
    }
  }
}

function copyNote(r: { changed: boolean; installed: boolean; bytesSent: number }): string {
  return r.changed || r.installed ? `${r.bytesSent} B sent${r.installed ? ', installed' : ''}` : 'unchanged';
}
