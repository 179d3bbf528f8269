import { before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ssh, waitForStatus } from '../helpers/deploy';
import { useSimDeploy } from '../helpers/simDeploy';

/**
 * A stand-in for omniinfer's global_proxy.sh (which needs omniinfer's nginx build): it records
 * the arguments it got and serves /v1 from the first prefill with the proxy image's nginx, so the
 * test shows the seed-mode plumbing end to end — code sync puts it in the container, run_proxy
 * runs it with the seed's arguments, readiness waits for /v1/models through it.
 */
const FAKE_GLOBAL_PROXY = `#!/bin/bash
set -eu
echo "$@" > "$LOG_PATH/global_proxy.args"
while [ $# -gt 0 ]; do
  case "$1" in
    --listen-port) port=$2; shift 2 ;;
    --prefill-servers-list) prefill=\${2%%,*}; shift 2 ;;
    *) shift ;;
  esac
done
d=/tmp/fake-global-proxy; mkdir -p $d
cat > $d/nginx.conf <<NGINX
daemon on; pid $d/nginx.pid; error_log $d/error.log;
events {}
http {
  access_log off;
  client_body_temp_path $d/body; proxy_temp_path $d/proxy;
  fastcgi_temp_path $d/fcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
  server { listen $port; location /v1 { proxy_pass http://$prefill; } }
}
NGINX
[ -f $d/nginx.pid ] && kill "$(cat $d/nginx.pid)" 2>/dev/null && sleep 0.5 || true
nginx -p $d -c $d/nginx.conf
`;

describe('run_proxy in seed mode on the simulated cluster', () => {
  const sim = useSimDeploy('sim-2P1D', 12, { extraVars: { proxy_mode: 'seed' } });
  // The stand-in in the executor's omniinfer tree, for sync_code to copy.
  before(() => {
    const scripts = path.join(sim.cluster.codeDir, 'tools', 'scripts');
    fs.mkdirSync(scripts, { recursive: true });
    fs.writeFileSync(path.join(scripts, 'global_proxy.sh'), FAKE_GLOBAL_PROXY, { mode: 0o755 });
  });

  it("runs omniinfer's global_proxy.sh with the seed's arguments and waits until it serves", async () => {
    const plan = sim.plan;
    const handle = await sim.deploy(['run_docker', 'sync_code', 'ranktable', 'run_server', 'run_proxy']);
    const status = await waitForStatus(
      handle,
      (s) => s.stage === 'ready' || s.stage === 'waiting-for-operator',
      120_000,
    );
    assert.equal(status.stage, 'ready', JSON.stringify(status.failures));
    assert.equal(status.table.c0?.run_proxy?.note, 'started');

    const args = await ssh(
      sim.cluster.ctx,
      plan.proxy.address,
      `cat ${plan.settings.LOG_PATH}/global_proxy.args`,
    );
    assert.match(args, new RegExp(`--listen-port ${plan.proxy.listenPort} `));
    assert.match(args, new RegExp(`--prefill-servers-list ${plan.proxy.prefillUpstreams.join(',')} `));
    assert.match(args, new RegExp(`--decode-servers-list ${plan.proxy.decodeUpstreams.join(',')} `));
    assert.match(args, /--prefill-lb-sdk pd_score_balance --decode-lb-sdk pd_score_balance/);

    const models = await fetch(`http://${plan.proxy.address}:${plan.proxy.listenPort}/v1/models`);
    assert.equal(models.status, 200);
    assert.match(await models.text(), /"deepseek"/);
    await handle.terminate();
  });
});
