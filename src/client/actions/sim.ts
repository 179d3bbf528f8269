import {
  hostsForCount,
  hostsFromInventory,
  powerOffHost,
  rebootHost,
  setDeviceTable,
  setLink,
  simContext,
  simDown,
  simStatus,
  simUp,
  type SimCluster,
  type SimEngine,
  defaultDevices,
  deviceTableText,
} from '../../../sim';

/* `instance` is `deploy sim --instance`: a separate simulated cluster; undefined for the default. */

function printCluster(c: SimCluster, json: boolean | undefined): void {
  if (json) {
    console.log(JSON.stringify(c, null, 2));
    return;
  }
  const rows = c.hosts.map((h) => [h.name, h.address, h.state, `link ${h.link}`, h.pid ?? '-']);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => String(r[i]).length), 4));
  for (const r of rows) {
    console.log(r.map((v, i) => String(v).padEnd(widths[i] ?? 0)).join('  '));
  }
  if (c.hosts.length === 0) console.log('no simulated hosts');
  console.log(`ssh key:     ${c.keyPath}`);
  console.log(`known_hosts: ${c.knownHostsPath}`);
  console.log(`ssh config:  ${c.sshConfigPath}   (ssh -F ${c.sshConfigPath} <host>)`);
  console.log(`images:      ${c.images.engine}, ${c.images.proxy}; model ${c.modelPath}`);
  console.log(
    `docker:      ${c.containerEngine === 'docker' ? "Debian's dockerd and the Docker CLI" : 'podman'}`,
  );
}

export async function up(
  instance: number | undefined,
  o: { inventory?: string; hosts?: number; devices: number; engine?: SimEngine; json?: boolean },
): Promise<void> {
  const ctx = simContext(instance);
  if ((o.inventory === undefined) === (o.hosts === undefined)) {
    throw new Error('give exactly one of --inventory FILE or --hosts N');
  }
  const specs = o.inventory ? hostsFromInventory(o.inventory) : hostsForCount(o.hosts!, ctx);
  const t0 = Date.now();
  const cluster = await simUp(specs, {
    ctx,
    devices: o.devices,
    ...(o.engine ? { engine: o.engine } : {}),
    log: o.json ? undefined : (l) => console.log(l),
  });
  if (!o.json) console.log(`up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  printCluster(cluster, o.json);
}

export async function down(instance: number | undefined): Promise<void> {
  await simDown(simContext(instance));
  console.log('simulated cluster removed');
}

export async function status(instance: number | undefined, o: { json?: boolean }): Promise<void> {
  printCluster(await simStatus(simContext(instance)), o.json);
}

export async function reboot(instance: number | undefined, host: string): Promise<void> {
  await rebootHost(host, simContext(instance));
  console.log(`${host} rebooted`);
}

export async function powerOff(instance: number | undefined, host: string): Promise<void> {
  await powerOffHost(host, simContext(instance));
  console.log(`${host} powered off (bring it back with: deploy sim reboot ${host})`);
}

export async function link(instance: number | undefined, state: string, host: string): Promise<void> {
  if (state !== 'up' && state !== 'down') throw new Error(`link state must be up or down, got "${state}"`);
  await setLink(host, state === 'up', simContext(instance));
  console.log(`${host}: link ${state}`);
}

export async function setDevices(
  instance: number | undefined,
  host: string,
  o: { count: number; withoutIp?: string; setIp?: string[] },
): Promise<void> {
  const ctx = simContext(instance);
  const h = (await simStatus(ctx)).hosts.find((x) => x.name === host || x.address === host);
  if (!h) throw new Error(`no simulated host "${host}"`);
  const devices = defaultDevices(Number(h.address.split('.')[3]), o.count);
  const noIp = o.withoutIp ? o.withoutIp.split(',').map(Number) : [];
  for (const d of devices) if (noIp.includes(d.id)) d.ip = null;
  for (const kv of o.setIp ?? []) {
    const [id, ipAddr] = kv.split('=');
    const d = devices.find((x) => x.id === Number(id));
    if (!d || !ipAddr) throw new Error(`--set-ip wants <id>=<ip> for an existing device, got "${kv}"`);
    d.ip = ipAddr;
  }
  await setDeviceTable(host, deviceTableText(devices), ctx);
  console.log(`${host}: device table rewritten (${devices.length} devices)`);
}
