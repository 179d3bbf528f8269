import { hostname } from 'node:os';

export interface PingReply {
  message: string;
  worker: string;
  pid: number;
}

/** The smallest real activity: proves a worker picked the task up and answered. */
export async function ping(message: string): Promise<PingReply> {
  return { message, worker: hostname(), pid: process.pid };
}
