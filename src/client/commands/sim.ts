import { Option, type Command } from 'commander';
import { positiveInt, wholeNumber } from '../options';

// Loaded when a sim command runs (see main.ts).
const actions = (): typeof import('../actions/sim') => require('../actions/sim');

const deviceCount = wholeNumber(1, 64);

/** `--engine podman|docker`: what `docker` is on the simulated hosts (sim/containerEngine.ts). */
export const engineOption = (what: string) =>
  new Option(
    '--engine <engine>',
    `${what}: podman behind the docker name, or Debian's dockerd with the Docker CLI (default $OMNI_SIM_ENGINE or podman)`,
  ).choices(['podman', 'docker']);

/** `deploy sim --instance N`, given before the subcommand. */
const instanceOf = (cmd: Command) => cmd.optsWithGlobals<{ instance?: number }>().instance;

export function registerSimCommands(program: Command): void {
  const sim = program
    .command('sim')
    .description('the simulated cluster: hosts with sshd, podman as docker, NPU and engine simulators')
    .option(
      '--instance <n>',
      'a separate simulated cluster (10.231.<n>.0/24), e.g. for tests; default $OMNI_SIM_INSTANCE or 0',
      wholeNumber(0, 254),
    );

  sim
    .command('up')
    .description('bring hosts up (idempotent; powered-off hosts come back with their disks)')
    .option('-i, --inventory <file>', 'one host per distinct ansible_host of the inventory')
    .option('--hosts <n>', 'N hosts h1..hN at 10.231.<instance>.11…', positiveInt)
    .option('--devices <n>', 'NPU devices per host (1-64)', deviceCount, 16)
    .addOption(engineOption("the hosts' container engine, for a new cluster"))
    .option('--json', 'print the cluster as JSON')
    .action(
      (
        o: {
          inventory?: string;
          hosts?: number;
          devices: number;
          engine?: 'podman' | 'docker';
          json?: boolean;
        },
        cmd: Command,
      ) => actions().up(instanceOf(cmd), o),
    );

  sim
    .command('down')
    .description('remove every host, namespace, link, process and disk of the simulated cluster')
    .action((_o: unknown, cmd: Command) => actions().down(instanceOf(cmd)));

  sim
    .command('status')
    .description('list hosts and their state (running / off / dead, link up / down)')
    .option('--json', 'print as JSON')
    .action((o: { json?: boolean }, cmd: Command) => actions().status(instanceOf(cmd), o));

  sim
    .command('reboot')
    .description('reboot a host (down + up, disk kept); also powers on a host that is off')
    .argument('<host>', 'host name or address')
    .action((host: string, _o: unknown, cmd: Command) => actions().reboot(instanceOf(cmd), host));

  sim
    .command('poweroff')
    .description('power a host off: all its processes die, its address disappears, disk kept')
    .argument('<host>', 'host name or address')
    .action((host: string, _o: unknown, cmd: Command) => actions().powerOff(instanceOf(cmd), host));

  sim
    .command('link')
    .description("pull or plug a host's network cable (the host keeps running)")
    .argument('<state>', 'down | up')
    .argument('<host>', 'host name or address')
    .action((state: string, host: string, _o: unknown, cmd: Command) =>
      actions().link(instanceOf(cmd), state, host),
    );

  sim
    .command('devices')
    .description("rewrite a host's NPU device table (for negative tests)")
    .argument('<host>', 'host name or address')
    .option('--count <n>', 'number of devices (1-64)', deviceCount, 16)
    .option('--without-ip <ids>', 'comma list of devices without an IP address')
    .option('--set-ip <id=ip...>', 'give devices these IPs (e.g. to duplicate another one)')
    .action((host: string, o: { count: number; withoutIp?: string; setIp?: string[] }, cmd: Command) =>
      actions().setDevices(instanceOf(cmd), host, o),
    );
}
