import type { ApiServer, Group, ListeningPort } from './types';

export interface PortOwner {
  group: Group;
  isMaster: boolean;
  nodePort: number;
  apiPort: number | null;
  devices: readonly number[];
}

/**
 * Ports a host's services actually bind. Prefill slaves run Ray workers only (the seed starts no
 * API server there); a decode host runs one API server per device on api_port, api_port+1, …
 * (start_api_servers.py), and only the decode master binds the DP master port.
 */
export function listeningPorts(h: PortOwner): ListeningPort[] {
  switch (h.group) {
    case 'P':
      return h.isMaster
        ? [
            { first: h.nodePort, last: h.nodePort, what: 'node_port' },
            { first: h.apiPort!, last: h.apiPort!, what: 'api_port' },
          ]
        : [];
    case 'D': {
      const api = { first: h.apiPort!, last: h.apiPort! + h.devices.length - 1, what: 'api_port' };
      return h.isMaster ? [{ first: h.nodePort, last: h.nodePort, what: 'node_port' }, api] : [api];
    }
    case 'C':
      return [{ first: h.nodePort, last: h.nodePort, what: 'node_port' }];
  }
}

/** The decode API servers of one host: one per device, DP ranks continuing from `dpOffset`. */
export function decodeApiServers(apiPort: number, deviceCount: number, dpOffset: number): ApiServer[] {
  return Array.from({ length: deviceCount }, (_, i) => ({ port: apiPort + i, dpRank: dpOffset + i }));
}

export function describePorts(p: ListeningPort): string {
  return p.first === p.last ? `${p.what} ${p.first}` : `API server ports ${p.first}-${p.last}`;
}
