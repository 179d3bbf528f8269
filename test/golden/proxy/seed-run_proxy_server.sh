#!/bin/bash
# omni-deploy run_proxy (seed mode): omniinfer's own global proxy, as the seed's
# run_proxy_server.sh starts it. Generated from the Plan; overwritten on the next deploy.
set -euo pipefail
export http_proxy=http://proxy.local:3128 https_proxy=http://proxy.local:3128
export PREFILL_LB_SDK=pd_score_balance DECODE_LB_SDK=pd_score_balance
mkdir -p /data/log_path
cd /data/local_code_path/omniinfer/tools/scripts
bash global_proxy.sh --listen-port 7000 --prefill-servers-list 127.0.0.1:9000,127.0.0.2:9001 --decode-servers-list 127.0.0.3:9100,127.0.0.3:9101,127.0.0.3:9102,127.0.0.3:9103,127.0.0.3:9104,127.0.0.3:9105,127.0.0.3:9106,127.0.0.3:9107,127.0.0.3:9108,127.0.0.3:9109,127.0.0.3:9110,127.0.0.3:9111,127.0.0.3:9112,127.0.0.3:9113,127.0.0.3:9114,127.0.0.3:9115,127.0.0.4:9101,127.0.0.4:9102,127.0.0.4:9103,127.0.0.4:9104,127.0.0.4:9105,127.0.0.4:9106,127.0.0.4:9107,127.0.0.4:9108,127.0.0.4:9109,127.0.0.4:9110,127.0.0.4:9111,127.0.0.4:9112,127.0.0.4:9113,127.0.0.4:9114,127.0.0.4:9115,127.0.0.4:9116 --log-file /data/log_path/nginx_error.log --log-level notice --core-num 4 --start-core-index 16 --prefill-lb-sdk pd_score_balance --decode-lb-sdk pd_score_balance
