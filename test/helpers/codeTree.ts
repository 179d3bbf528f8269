import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * A code tree like the one measured against the seed (issue 16): 351 files, 30 MB, a third of it
 * text; `scale` multiplies the binary files' size. Deterministic: the same bytes every time.
 */
export function makeCodeTree(dir: string, scale = 1): { files: number; bytes: number } {
  let seed = 0x9e3779b9;
  const random = (n: number) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i += 4) {
      seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
      b.writeUInt32LE(seed, Math.min(i, n - 4));
    }
    return b;
  };
  let bytes = 0;
  const write = (rel: string, content: Buffer | string) => {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
    bytes += Buffer.byteLength(content);
  };
  write('setup.py', 'from setuptools import setup\nsetup(name="omniinfer")\n');
  for (let i = 0; i < 50; i++) write(`omni/lib/ext_${i}.so`, random(Math.round(400 * 1024 * scale)));
  const line = 'def forward(self, hidden_states, attention_mask=None):  # layer kernel dispatch\n';
  for (let i = 0; i < 300; i++)
    write(`omni/models/m${i % 12}/layer_${i}.py`, line.repeat(Math.ceil(34_000 / line.length)));
  return { files: 351, bytes };
}
