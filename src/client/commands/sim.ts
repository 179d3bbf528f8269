import type { Command } from 'commander';
import {
  defaultDevices,
  deviceTableText,
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
  type SimContext,
} from '../../../sim';
import { positiveInt, wholeNumber } from '../options';

const deviceCount = wholeNumber(1, 64);

function ctxOf(cmd: Command): SimContext {
  const { instance } = cmd.optsWithGlobals<{ instance?: number }>();
  return simContext(instance);
}

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
}

export function registerSimCommands(program: Command): void {
  const sim = program
    .command('sim')
    .description('the simulated cluster: hosts with sshd, podman as docker, NPU and engine simulators')
    .option(
      '--instance <n>',
      'a separate simulated cluster (10.231.<n>.0/24), e.g. for tests; default $OMNI_SIM_INSTANCE or 0',
      wholeNumber(0, 99),
    );

  sim
    .command('up')
    .description('bring hosts up (idempotent; powered-off hosts come back with their disks)')
    .option('--inventory <file>', 'one host per distinct ansible_host of the inventory')
    .option('--hosts <n>', 'N hosts h1..hN at 10.231.<instance>.11…', positiveInt)
    .option('--devices <n>', 'NPU devices per host (1-64)', deviceCount, 16)
    .option('--json', 'print the cluster as JSON')
    .action(
      async (o: { inventory?: string; hosts?: number; devices: number; json?: boolean }, cmd: Command) => {
        const ctx = ctxOf(cmd);
        if ((o.inventory === undefined) === (o.hosts === undefined)) {
          throw new Error('give exactly one of --inventory FILE or --hosts N');
        }
        const specs = o.inventory ? hostsFromInventory(o.inventory) : hostsForCount(o.hosts!, ctx);
        const t0 = Date.now();
        const cluster = await simUp(specs, {
          ctx,
          devices: o.devices,
          log: o.json ? undefined : (l) => console.log(l),
        });
        if (!o.json) console.log(`up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        printCluster(cluster, o.json);
      },
    );

  sim
    .command('down')
    .description('remove every host, namespace, link, process and disk of the simulated cluster')
    .action(async (_o: unknown, cmd: Command) => {
      await simDown(ctxOf(cmd));
      console.log('simulated cluster removed');
    });

  sim
    .command('status')
    .description('list hosts and their state (running / off / dead, link up / down)')
    .option('--json', 'print as JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      printCluster(await simStatus(ctxOf(cmd)), o.json);
    });

  sim
    .command('reboot')
    .description('reboot a host (down + up, disk kept); also powers on a host that is off')
    .argument('<host>', 'host name or address')
    .action(async (host: string, _o: unknown, cmd: Command) => {
      await rebootHost(host, ctxOf(cmd));
      console.log(`${host} rebooted`);
    });

  sim
    .command('poweroff')
    .description('power a host off: all its processes die, its address disappears, disk kept')
    .argument('<host>', 'host name or address')
    .action(async (host: string, _o: unknown, cmd: Command) => {
      await powerOffHost(host, ctxOf(cmd));
      console.log(`${host} powered off (bring it back with: deploy sim reboot ${host})`);
    });

  sim
    .command('link')
    .description("pull or plug a host's network cable (the host keeps running)")
    .argument('<state>', 'down | up')
    .argument('<host>', 'host name or address')
    .action(async (state: string, host: string, _o: unknown, cmd: Command) => {
      if (state !== 'up' && state !== 'down')
        throw new Error(`link state must be up or down, got "${state}"`);
      await setLink(host, state === 'up', ctxOf(cmd));
      console.log(`${host}: link ${state}`);
    });

  sim
    .command('devices')
    .description("rewrite a host's NPU device table (for negative tests)")
    .argument('<host>', 'host name or address')
    .option('--count <n>', 'number of devices (1-64)', deviceCount, 16)
    .option('--without-ip <ids>', 'comma list of devices without an IP address')
    .option('--set-ip <id=ip...>', 'give devices these IPs (e.g. to duplicate another one)')
    .action(
      async (host: string, o: { count: number; withoutIp?: string; setIp?: string[] }, cmd: Command) => {
        const ctx = ctxOf(cmd);
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
      },
    );
}
