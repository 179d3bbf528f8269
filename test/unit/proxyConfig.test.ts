import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  nginxCommands,
  proxyConfigHash,
  renderProxyConfig,
  type ProxyConfigSpec,
} from '../../src/plan/proxy';
import { assertGolden } from '../helpers/golden';

const range = (host: string, first: number, n: number) =>
  Array.from({ length: n }, (_, i) => `${host}:${first + i}`);

/** The seed's 2P1D proxy: one upstream per prefill instance, every decode API server. */
const SPEC_2P1D: ProxyConfigSpec = {
  listenPort: 7000,
  prefill: ['10.0.0.1:9000', '10.0.0.2:9001'],
  decode: [...range('10.0.0.3', 9100, 16), ...range('10.0.0.4', 9101, 16)],
  logDir: '/data/log_path',
  runDir: '/tmp/omni-deploy/proxy/',
  njsPath: '/tmp/omni-deploy/proxy/pd.js',
};

describe('proxy config generator', () => {
  it('2P1D nginx.conf and njs match their golden copies', () => {
    const { nginxConf, njs } = renderProxyConfig(SPEC_2P1D);
    assertGolden('proxy/2P1D/nginx.conf', nginxConf);
    assertGolden('proxy/pd.js', njs);
  });

  it('lists each upstream server once with passive failover, and the PD locations', () => {
    const { nginxConf } = renderProxyConfig(SPEC_2P1D);
    assert.equal(nginxConf.match(/^\s+server \S+ max_fails=1 fail_timeout=5s;$/gm)?.length, 34);
    assert.ok(nginxConf.includes('    server 10.0.0.4:9116 max_fails=1 fail_timeout=5s;\n'));
    assert.ok(nginxConf.includes('  proxy_connect_timeout 2s;'));
    assert.ok(nginxConf.includes('  proxy_next_upstream error timeout http_502 http_503;'));
    assert.doesNotMatch(
      nginxConf,
      /^\s*proxy_next_upstream .*non_idempotent/m,
      'a completion that reached a server is never re-sent',
    );
    assert.ok(nginxConf.includes('load_module "/usr/lib/nginx/modules/ngx_http_js_module.so";'));
    assert.ok(nginxConf.includes('pid "/tmp/omni-deploy/proxy/nginx.pid";'));
    assert.ok(nginxConf.includes('error_log "/data/log_path/nginx_error.log" notice;'));
    assert.ok(nginxConf.includes('    listen 7000 reuseport;'));
    assert.ok(
      nginxConf.includes('    location ~ ^/v1(/chat)?/completions$ {\n      js_content pd.completions;'),
    );
    assert.ok(nginxConf.includes('  proxy_read_timeout 14400s;'));
    assert.doesNotMatch(nginxConf, /daemon off/);
    const fg = renderProxyConfig({
      ...SPEC_2P1D,
      foreground: true,
      listenAddress: '127.0.0.1',
      requestTimeoutSeconds: 60,
    });
    assert.ok(fg.nginxConf.includes('daemon off;'));
    assert.ok(fg.nginxConf.includes('    listen 127.0.0.1:7000 reuseport;'));
    assert.ok(fg.nginxConf.includes('  proxy_read_timeout 60s;'));
  });

  it('/health gets the upstream lists from the config and probes only them, through named groups', () => {
    const { nginxConf } = renderProxyConfig(SPEC_2P1D);
    const health = /location = \/health \{\n([^}]*)\}/.exec(nginxConf)![1]!;
    assert.ok(health.includes('set $pd_health_prefill "10.0.0.1:9000 10.0.0.2:9001";'));
    assert.ok(health.includes(`set $pd_health_decode "${SPEC_2P1D.decode.join(' ')}";`));
    assert.ok(health.includes('set $pd_health_decode_drained "";'));
    assert.ok(health.includes('js_content pd.health;'));
    assert.ok(nginxConf.includes('  upstream pd_probe_prefill_1 { server 10.0.0.2:9001; }\n'));
    assert.ok(nginxConf.includes('  upstream pd_probe_decode_31 { server 10.0.0.4:9116; }\n'));
    assert.equal(nginxConf.match(/^ {2}upstream pd_probe_/gm)?.length, 34);
    // The probe location is internal and its target is always one of those groups.
    const probe = /location ~ \^\/_pd_probe\/[^{]*\{\n([^}]*)\}/.exec(nginxConf)![1]!;
    assert.match(probe, /^\s+internal;$/m);
    assert.match(probe, /^\s+proxy_pass http:\/\/pd_probe_\$pd_probe\/health;$/m);
    assert.match(probe, /^\s+proxy_connect_timeout 1s;$/m);
    assert.match(probe, /^\s+proxy_read_timeout 2s;$/m);
    assert.doesNotMatch(nginxConf, /^\s*resolver /m);
  });

  it('marks drained upstreams down, stops probing them, and changes the hash', () => {
    const drained = ['10.0.0.2:9001', '10.0.0.3:9100'];
    const { nginxConf } = renderProxyConfig({ ...SPEC_2P1D, drained });
    assert.ok(nginxConf.includes('    server 10.0.0.2:9001 max_fails=1 fail_timeout=5s down;\n'));
    assert.ok(nginxConf.includes('    server 10.0.0.3:9100 max_fails=1 fail_timeout=5s down;\n'));
    assert.equal(nginxConf.match(/ down;$/gm)?.length, 2);
    assert.ok(nginxConf.includes('set $pd_health_prefill "10.0.0.1:9000";'));
    assert.ok(nginxConf.includes('set $pd_health_prefill_drained "10.0.0.2:9001";'));
    assert.ok(nginxConf.includes('set $pd_health_decode_drained "10.0.0.3:9100";'));
    assert.equal(nginxConf.match(/^ {2}upstream pd_probe_/gm)?.length, 32);
    assert.doesNotMatch(nginxConf, /pd_probe_prefill_1 /);
    assert.ok(nginxConf.includes('  upstream pd_probe_decode_0 { server 10.0.0.3:9101; }\n'));

    assert.notEqual(proxyConfigHash({ ...SPEC_2P1D, drained }), proxyConfigHash(SPEC_2P1D));
    assert.equal(proxyConfigHash({ ...SPEC_2P1D, drained: [] }), proxyConfigHash(SPEC_2P1D));
    assert.throws(
      () => renderProxyConfig({ ...SPEC_2P1D, drained: ['10.0.0.9:9000'] }),
      /drained server "10.0.0.9:9000" is neither a prefill nor a decode server/,
    );
    assert.throws(
      () => renderProxyConfig({ ...SPEC_2P1D, drained: [drained[0]!, drained[0]!] }),
      /listed twice/,
    );
  });

  it('is deterministic, and its hash changes exactly when the output does', () => {
    assert.deepEqual(renderProxyConfig(SPEC_2P1D), renderProxyConfig(structuredClone(SPEC_2P1D)));
    const hash = proxyConfigHash(SPEC_2P1D);
    assert.match(hash, /^[0-9a-f]{16}$/);
    assert.equal(proxyConfigHash(structuredClone(SPEC_2P1D)), hash);
    assert.notEqual(proxyConfigHash({ ...SPEC_2P1D, decode: SPEC_2P1D.decode.slice(1) }), hash);
    assert.notEqual(proxyConfigHash({ ...SPEC_2P1D, listenPort: 7001 }), hash);
  });

  it('refuses values that would not be one nginx token', () => {
    assert.throws(
      () => renderProxyConfig({ ...SPEC_2P1D, prefill: ['10.0.0.1:9000; include /etc/passwd'] }),
      /not host:port/,
    );
    assert.throws(() => renderProxyConfig({ ...SPEC_2P1D, decode: [] }), /no decode server/);
    assert.throws(() => renderProxyConfig({ ...SPEC_2P1D, prefill: ['a:1', 'a:1'] }), /listed twice/);
    assert.throws(() => renderProxyConfig({ ...SPEC_2P1D, logDir: '/logs/$host' }), /contains "\$"/);
    assert.throws(() => renderProxyConfig({ ...SPEC_2P1D, listenPort: 70000 }), /out of range/);
    const quoted = renderProxyConfig({ ...SPEC_2P1D, njsPath: '/x/a "b"; c.js' }).nginxConf;
    assert.ok(quoted.includes('js_import pd from "/x/a \\"b\\"; c.js";'));
  });

  it('gives the nginx command lines for the generated config', () => {
    const c = nginxCommands({ confPath: '/p/nginx.conf', prefixDir: '/p' });
    assert.deepEqual(c.test, ['nginx', '-p', '/p', '-c', '/p/nginx.conf', '-t']);
    assert.deepEqual(c.reload, ['nginx', '-p', '/p', '-c', '/p/nginx.conf', '-s', 'reload']);
    assert.deepEqual(c.quit.slice(-2), ['-s', 'quit']);
  });
});
