import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

import { PROJECT_ROOT } from '../../src/shared/paths';

const run = promisify(execFile);

/**
 * Two checkouts side by side on one machine share the simulated hosts' image store but never each
 * other's simulator: each build is tagged by its content and each checkout's state names its own
 * tags, whichever built last. Checkout B is a copy of sim/ whose engine differs by one function;
 * the store is a temporary one, so the machine's is not touched.
 */
describe('simulated images tagged by content', { timeout: 300_000 }, () => {
  let work: string;
  let store: string;
  let simB: string;

  const build = async (script: string, state: string) => {
    const { stdout } = await run(script, [state], {
      env: {
        ...process.env,
        PATH: `${process.env.PATH ?? ''}:/usr/local/go/bin`,
        OMNI_SIM_IMAGE_STORE: store,
      },
    });
    const env = fs.readFileSync(path.join(state, 'images.env'), 'utf8');
    const tag = (k: string) => new RegExp(`^${k}=(\\S+)$`, 'm').exec(env)?.[1] ?? '';
    return { stdout, engine: tag('ENGINE_IMAGE'), proxy: tag('PROXY_IMAGE') };
  };
  /** The names in the store, from containers/storage's own index (podman would want the build's runroot). */
  const storeTags = () =>
    (
      JSON.parse(fs.readFileSync(path.join(store, 'overlay-images', 'images.json'), 'utf8')) as {
        names?: string[];
      }[]
    ).flatMap((i) => i.names ?? []);

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-sim-images-'));
    store = path.join(work, 'store');
    simB = path.join(work, 'checkout-b', 'sim');
    fs.mkdirSync(simB, { recursive: true });
    fs.cpSync(path.join(PROJECT_ROOT, 'sim', 'engine'), path.join(simB, 'engine'), { recursive: true });
    fs.copyFileSync(path.join(PROJECT_ROOT, 'sim', 'build-images.sh'), path.join(simB, 'build-images.sh'));
    // Linked in (an init function always is): B's simulator binary, and so its image, differ.
    fs.writeFileSync(
      path.join(simB, 'engine', 'zz_checkout_b.go'),
      'package main\n\nimport "os"\n\nfunc init() {\n\tif os.Getenv("OMNI_SIM_CHECKOUT_B") != "" {\n\t\tprintln("checkout B")\n\t}\n}\n',
    );
  });
  after(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('each checkout keeps running its own engine image, whichever built last', async () => {
    const stateA = path.join(work, 'state-a');
    const stateB = path.join(work, 'state-b');
    const a = await build(path.join(PROJECT_ROOT, 'sim', 'build-images.sh'), stateA);
    assert.match(a.engine, /^localhost\/omni-sim-engine:[0-9a-f]{16}$/);
    assert.match(a.proxy, /^localhost\/omni-sim-proxy:[0-9a-f]{16}$/);

    const b = await build(path.join(simB, 'build-images.sh'), stateB);
    assert.notEqual(b.engine, a.engine, "B's engine is another image");
    assert.equal(b.proxy, a.proxy, 'the same proxy rootfs is the same image');

    // A again, after B built last: nothing rebuilt, A still names its own engine.
    const again = await build(path.join(PROJECT_ROOT, 'sim', 'build-images.sh'), stateA);
    assert.match(again.stdout.trim(), /^cached .*\(inputs unchanged\)$/);
    assert.deepEqual([again.engine, again.proxy], [a.engine, a.proxy]);

    const tags = storeTags();
    for (const t of [a.engine, b.engine, a.proxy]) assert.ok(tags.includes(t), `${t} in ${tags.join(', ')}`);
    // `:latest` is the newest build, for inventories written by hand.
    assert.ok(tags.includes('localhost/omni-sim-engine:latest'));
  });
});
