import { parseHttpAnswer, parseUpstreams, postJson, requestLogLines } from '../remote/commands';
import type { ActivityDeps } from './deps';
import { classified, fail } from './failures';
import { withHeartbeat } from './heartbeat';
import { TIMEOUTS } from './timeouts';
import type { VerifyInput, VerifyResult } from './types';

interface Endpoint {
  host: string;
  port: number;
}

const endpoint = (e?: Endpoint | null) => (e ? `${e.host}:${e.port}` : undefined);

interface CompletionAnswer {
  choices?: { text?: string }[];
  /** The simulated engine says which prefill and decode served it; a real engine does not. */
  omni_sim?: { prefill?: Endpoint | null; decode?: Endpoint | null };
}

/**
 * One real completion through the global proxy, sent from the proxy's host. It must have passed
 * prefill then decode: the proxy's access log line for our request id names the upstreams (and
 * the simulated engine reports both in its answer).
 */
export async function verifyCompletion({ remote }: ActivityDeps, input: VerifyInput): Promise<VerifyResult> {
  return classified(() =>
    withHeartbeat(async (signal) => {
      const host = input.target;
      const body = JSON.stringify({
        model: input.model,
        prompt: 'omni-deploy verify',
        max_tokens: 8,
        stream: false,
      });
      const r = await remote.exec(
        host,
        postJson(`${input.url}/v1/completions`, {
          timeoutMs: TIMEOUTS.verifyRequest,
          headers: { 'X-Request-Id': input.requestId },
        }),
        { stdin: body, check: false, signal, timeoutMs: TIMEOUTS.verifyCommand },
      );
      const { status, body: text } = parseHttpAnswer(r.stdout);
      if (status !== '200') {
        throw fail(
          'VerifyFailed',
          `completion through the proxy on ${host.name} answered ${status || r.stderr.trim()}: ${text.slice(0, 500)}`,
        );
      }
      const answer = JSON.parse(text) as CompletionAnswer;
      const log = await remote.exec(host, requestLogLines(input.accessLog, input.requestId), {
        check: false,
        signal,
        timeoutMs: TIMEOUTS.quickCommand,
      });
      const upstreams = parseUpstreams(log.stdout);
      const prefill =
        endpoint(answer.omni_sim?.prefill) ?? upstreams.find((u) => input.prefillUpstreams.includes(u));
      const decode =
        endpoint(answer.omni_sim?.decode) ?? upstreams.find((u) => input.decodeUpstreams.includes(u));
      if (!prefill || !decode) {
        throw fail(
          'VerifyFailed',
          `the completion did not pass prefill then decode (prefill: ${prefill ?? 'none'}, decode: ${decode ?? 'none'}; access log: ${log.stdout.trim() || 'no line'})`,
        );
      }
      return { text: answer.choices?.[0]?.text ?? '', prefill, decode };
    }),
  );
}
