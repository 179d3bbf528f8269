export { renderProxyConfig, DEBIAN_JS_MODULE, nginxRuntimeFiles, nginxTempDirs } from './nginxConf';
export { proxyConfigHash } from './hash';
export { nginxCommands, type NginxPaths } from './commands';
export type { ProxyConfigSpec, ProxyConfig } from './types';
export { renderSeedProxyScript, type SeedProxySpec } from './seedMode';
