import { seededRng, uniformInt } from './random';

/**
 * What the benchmark sends: prompts and how many tokens to ask for. Tokens are counted as the
 * simulated engine counts them, one per whitespace-separated word, so a prompt of N words is N
 * input tokens there (a real engine's tokenizer counts differently; the engine's own count, from
 * the streamed usage, is what the report uses when it comes).
 */
export interface BenchRequest {
  prompt: string;
  /** Words in the prompt: the input length in the simulated engine's tokens. */
  promptLen: number;
  /** `max_tokens` to ask for. */
  outputLen: number;
}

/** A dataset answers for any request index, so prompts are built only when a request is sent. */
export interface Dataset {
  name: 'random' | 'jsonl';
  request(index: number): BenchRequest;
}

/** The longest prompt or answer one request may ask for, in tokens. */
export const MAX_REQUEST_TOKENS = 131_072;

export interface RandomDatasetOptions {
  inputLen: number;
  outputLen: number;
  /** 0 ≤ ratio < 1: lengths drawn uniformly from [⌊len·(1−r)⌋, ⌈len·(1+r)⌉]. */
  rangeRatio: number;
  seed: number;
}

/**
 * vLLM's range for `--random-range-ratio` (RandomDataset.get_sampling_params): integers from
 * ⌊len·(1−r)⌋ to ⌈len·(1+r)⌉, both included; an output length is at least 1.
 */
export function lengthRange(len: number, ratio: number, atLeast = 0): [number, number] {
  return [Math.max(atLeast, Math.floor(len * (1 - ratio))), Math.max(atLeast, Math.ceil(len * (1 + ratio)))];
}

/** Words of the random prompts: common English words, one token each in the simulated engine. */
const WORDS = (
  'the of and to in is was he for it with as his on be at by had are but from or have an they ' +
  'which one you were all we her she there would their will when who him been has more if no out ' +
  'do so can what up said about other into than its time only could new them man some these then ' +
  'two first may any like now my such make over our even most me state after also made many did ' +
  'must before back see through way where get much go well your know should down work year because ' +
  'come people just say each those take day good how long very own world little us around here'
).split(' ');

/**
 * The random dataset: lengths around `--random-input-len` / `--random-output-len` within the range
 * ratio, prompts of exactly that many words. Request i draws from its own stream of the seed, so
 * the same seed gives the same requests whatever order they are built in.
 */
export function randomDataset(o: RandomDatasetOptions): Dataset {
  const [inLow, inHigh] = lengthRange(o.inputLen, o.rangeRatio);
  const [outLow, outHigh] = lengthRange(o.outputLen, o.rangeRatio, 1);
  if (inLow < 1) {
    throw new Error(
      `--random-input-len ${o.inputLen} with --random-range-ratio ${o.rangeRatio} allows empty prompts; raise the length or lower the ratio`,
    );
  }
  return {
    name: 'random',
    request(index) {
      // Streams 0 and 1 are the arrivals' (arrivals.ts); requests take 2 onwards.
      const rng = seededRng(o.seed, 2 + index);
      const promptLen = uniformInt(rng, inLow, inHigh);
      const outputLen = uniformInt(rng, outLow, outHigh);
      const words = new Array<string>(promptLen);
      for (let i = 0; i < promptLen; i++) words[i] = WORDS[Math.floor(rng() * WORDS.length)]!;
      return { prompt: words.join(' '), promptLen, outputLen };
    },
  };
}

/** Words as the simulated engine counts them. */
export function countWords(text: string): number {
  const trimmed = text.trim();
  return trimmed === '' ? 0 : trimmed.split(/\s+/).length;
}

function lengthField(value: unknown, where: string, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > MAX_REQUEST_TOKENS)
    throw new Error(`${where}: "${field}" must be a whole number from 1 to ${MAX_REQUEST_TOKENS}`);
  return value as number;
}

/**
 * A JSONL prompt file: one object per line with `prompt` (a string) and optionally `output_len`
 * or `max_tokens`; a line without either asks for `defaultOutputLen`. Blank lines are skipped.
 * Requests take the lines in order, from the first again once all were used.
 */
export function jsonlDataset(text: string, file: string, defaultOutputLen: number): Dataset {
  const entries: BenchRequest[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${file}:${i + 1}`;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      throw new Error(`${where}: not a JSON object`);
    }
    const r = row as { prompt?: unknown; output_len?: unknown; max_tokens?: unknown } | null;
    if (typeof r !== 'object' || r === null || typeof r.prompt !== 'string' || r.prompt.trim() === '')
      throw new Error(`${where}: expected an object with a non-empty "prompt" string`);
    const outputLen =
      lengthField(r.output_len, where, 'output_len') ??
      lengthField(r.max_tokens, where, 'max_tokens') ??
      defaultOutputLen;
    entries.push({ prompt: r.prompt, promptLen: countWords(r.prompt), outputLen });
  });
  if (entries.length === 0) throw new Error(`${file}: no prompts (one JSON object per line)`);
  return { name: 'jsonl', request: (index) => entries[index % entries.length]! };
}
