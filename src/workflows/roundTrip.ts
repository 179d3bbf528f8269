import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const { ping } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

export interface RoundTripResult {
  echoed: string;
  worker: string;
}

/** Client → server → worker → activity → back: the smallest proof that the whole chain works. */
export async function roundTrip(message: string): Promise<RoundTripResult> {
  const reply = await ping(message);
  return { echoed: reply.message, worker: reply.worker };
}
