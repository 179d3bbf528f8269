export {
  renderProxyConfig,
  DEBIAN_JS_MODULE,
  nginxRuntimeFiles,
  nginxTempDirs,
  PROXY_STATUS_PATH,
} from './nginxConf';
export { proxyConfigHash } from './hash';
export { nginxCommands, type NginxPaths } from './commands';
export type { ProxyConfigSpec, ProxyConfig } from './types';
export { renderSeedProxyScript, type SeedProxySpec } from './seedMode';
