import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bigInventory } from '../helpers/bigInventory';
import { DEPLOY_BIN } from '../helpers/cli';

/**
 * `deploy plan --json | jq` on a big cluster: the output goes into a pipe whose reader is slower
 * than the writer. The process used to exit before stdout drained, cutting the JSON at the pipe's
 * 64 KiB buffer.
 */
describe('deploy output into a pipe', () => {
  it('a multi-megabyte `deploy plan --json` reaches a slow reader whole', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-pipe-'));
    try {
      const file = path.join(dir, 'big-256.yml');
      fs.writeFileSync(
        file,
        bigInventory({ prefillInstances: 128, hostsPerPrefill: 1, decodeHosts: 127, devices: 16 }),
      );
      const child = spawn(DEPLOY_BIN, ['plan', '-i', file, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      // The reader starts late and reads in small bites, so the writer meets a full pipe.
      child.stdout.pause();
      const chunks: Buffer[] = [];
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<number>((resolve) => child.once('close', (code) => resolve(code ?? -1)));
      await new Promise((r) => setTimeout(r, 1500));
      for await (const chunk of child.stdout) {
        chunks.push(chunk as Buffer);
        await new Promise((r) => setImmediate(r));
      }
      const code = await exited;
      const text = Buffer.concat(chunks).toString('utf8');
      assert.equal(code, 0, stderr);
      assert.ok(text.length > 1_000_000, `expected megabytes of JSON, got ${text.length} bytes`);
      const plan = JSON.parse(text) as { hosts: unknown[] };
      assert.equal(plan.hosts.length, 256);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
