import { failureCause } from '../loadgen/runLoad';
import type { BenchRequest } from './dataset';
import type { RequestOutcome } from './metrics';

/**
 * Server-sent events as an OpenAI-compatible server streams them: events end with a blank line,
 * their `data:` lines carry JSON or `[DONE]`, lines starting with `:` are comments (pings). Fed
 * text as it arrives; returns the data of each event completed so far.
 */
export class SseParser {
  private buffer = '';

  push(text: string): string[] {
    this.buffer += text.replace(/\r\n?/g, '\n');
    const events: string[] = [];
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''));
      if (data.length > 0) events.push(data.join('\n'));
    }
    return events;
  }
}

interface StreamChunk {
  choices?: { text?: string | null; delta?: { content?: string | null } }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
}

/** The request body `vllm bench serve` sends for the endpoint, streaming with usage. */
export function requestBody(chat: boolean, model: string, r: BenchRequest, ignoreEos: boolean): string {
  const stream = { stream: true, stream_options: { include_usage: true } };
  const body = chat
    ? {
        model,
        messages: [{ role: 'user', content: r.prompt }],
        max_completion_tokens: r.outputLen,
        ...stream,
      }
    : { model, prompt: r.prompt, max_tokens: r.outputLen, ...stream };
  return JSON.stringify(ignoreEos ? { ...body, ignore_eos: true } : body);
}

export interface SendInput {
  url: URL;
  chat: boolean;
  model: string;
  request: BenchRequest;
  ignoreEos: boolean;
  /** Aborts the request: the run's stop and the request's own timeout. */
  signal: AbortSignal;
  /** The run's clock, ms. */
  now: () => number;
}

export type SendOutcome = Omit<RequestOutcome, 'index' | 'queueMs'>;

/**
 * One streamed completion, timed as vLLM's request function times it: TTFT at the first chunk
 * that carries a choice, each later such chunk adds an inter-token gap, the end (E2EL) is the last
 * one; the usage chunk gives the engine's token counts. Redirects are not followed (they could
 * lead off the allowed addresses).
 */
export async function sendRequest(input: SendInput): Promise<SendOutcome> {
  const start = input.now();
  const outcome: SendOutcome = {
    ok: false,
    startMs: start,
    ttftMs: 0,
    latencyMs: 0,
    itlsMs: [],
    promptLen: input.request.promptLen,
    outputLen: 0,
  };
  let chunks = 0;
  let usageTokens: number | undefined;
  let last = start;
  try {
    const res = await fetch(input.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: requestBody(input.chat, input.model, input.request, input.ignoreEos),
      redirect: 'manual',
      signal: input.signal,
    });
    if (res.status !== 200 || !res.body) {
      await res.body?.cancel();
      return { ...outcome, error: `HTTP ${res.status}` };
    }
    const parser = new SseParser();
    const decoder = new TextDecoder();
    for await (const bytes of res.body) {
      const at = input.now();
      for (const data of parser.push(decoder.decode(bytes, { stream: true }))) {
        if (data === '[DONE]') continue;
        let chunk: StreamChunk;
        try {
          chunk = JSON.parse(data) as StreamChunk;
        } catch {
          continue; // not JSON: no token, as vLLM's client would fail on it; counted below if none came
        }
        if (chunk.choices && chunk.choices.length > 0) {
          if (chunks === 0) outcome.ttftMs = at - start;
          else outcome.itlsMs.push(at - last);
          chunks++;
          last = at;
        } else if (chunk.usage) {
          if (typeof chunk.usage.completion_tokens === 'number') usageTokens = chunk.usage.completion_tokens;
          if (typeof chunk.usage.prompt_tokens === 'number') outcome.promptLen = chunk.usage.prompt_tokens;
        }
      }
    }
  } catch (e) {
    return { ...outcome, error: failureCause(e) };
  }
  if (chunks === 0) return { ...outcome, error: 'no token in the stream' };
  return { ...outcome, ok: true, latencyMs: last - start, outputLen: usageTokens ?? chunks };
}
