package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

const simVllmVersion = "0.9.0"

func logAt(level, where, format string, a ...any) {
	w := os.Stdout
	if level != "INFO" {
		w = os.Stderr
	}
	fmt.Fprintf(w, "%s %s [%s] %s\n", level, time.Now().Format("01-02 15:04:05"), where, fmt.Sprintf(format, a...))
}

// fatal prints what a Python engine prints when start-up fails: an ERROR line and the
// exception, and exits 1 (the launcher sees the process die).
func fatal(where, exc string) int {
	logAt("ERROR", where, "EngineCore failed to start.")
	fmt.Fprintln(os.Stderr, "Traceback (most recent call last):")
	fmt.Fprintf(os.Stderr, "  File \"/vllm-workspace/vllm/vllm/%s\", in <module>\n", strings.SplitN(where, ":", 2)[0])
	fmt.Fprintln(os.Stderr, exc)
	return 1
}

type engine struct {
	args        *serveArgs
	model       string
	served      string
	port        int
	maxModelLen int
	role        string // prefill | decode | standalone
	kvRole      string
	kvRank      int
	engineID    string
	kvParallel  int
	hostIP      string
	devices     []string
	dpSize      int
	dpRank      int
	prefillPods int
	global      *globalRanktable
	clusterID   string
	knobs       *knobs
	listener    net.Listener
	cfg         engineConfig
	core        *engineCore
}

func vllmMain(argv []string) int {
	if len(argv) == 0 || argv[0] == "-h" || argv[0] == "--help" {
		fmt.Println("usage: vllm [-h] [-v] {chat,complete,serve,bench,collect-env,run-batch} ...")
		return 0
	}
	if argv[0] == "-v" || argv[0] == "--version" {
		fmt.Println(simVllmVersion)
		return 0
	}
	if argv[0] != "serve" {
		fmt.Fprintln(os.Stderr, "usage: vllm [-h] [-v] {chat,complete,serve,bench,collect-env,run-batch} ...")
		fmt.Fprintf(os.Stderr, "vllm: error: argument subparser: invalid choice: '%s' (choose from 'chat', 'complete', 'serve', 'bench', 'collect-env', 'run-batch')\n", argv[0])
		return 2
	}
	for _, a := range argv[1:] {
		if a == "-h" || a == "--help" {
			fmt.Println(serveUsage)
			fmt.Println("\nStart the (simulated) vLLM OpenAI compatible API server.")
			keys := make([]string, 0, len(serveFlags))
			for k := range serveFlags {
				keys = append(keys, "--"+k)
			}
			sort.Strings(keys)
			fmt.Println("\noptions:\n  " + strings.Join(keys, "\n  "))
			return 0
		}
	}
	args, err := parseServeArgs(argv[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, serveUsage)
		fmt.Fprintf(os.Stderr, "vllm serve: error: %s\n", err)
		return 2
	}
	e := &engine{args: args, model: args.Model, port: args.intOr("port", 8000), maxModelLen: args.intOr("max-model-len", 4096)}
	e.served = e.model
	if names := args.Multi["served-model-name"]; len(names) > 0 {
		e.served = names[0]
	}
	logAt("INFO", "api_server.py:1287", "vLLM API server version %s (omni-deploy simulator, %s)", simVllmVersion, runtime.Version())
	logAt("INFO", "api_server.py:1288", "args: %s", strings.Join(argv[1:], " "))
	return e.run()
}

func (e *engine) run() int {
	if code, failed := e.checkModel(); failed {
		return code
	}
	if msg := e.checkConfig(); msg != "" {
		return fatal("config.py:1406", msg)
	}
	// Like vLLM, the API socket is bound before the engine starts, so a busy port fails fast
	// and a client that connects early just waits until start-up completes.
	host := e.args.Str["host"]
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(e.port)))
	if err != nil {
		return fatal("api_server.py:1078", fmt.Sprintf("OSError: [Errno 98] error while attempting to bind on address ('%s', %d): address already in use", orAll(host), e.port))
	}
	e.listener = ln
	if msg := e.checkPD(); msg != "" {
		return fatal("llmdatadist_connector.py:112", msg)
	}
	e.knobs = newKnobs(e.port, e.role)
	if msg := e.checkParallel(); msg != "" {
		return fatal("parallel_state.py:940", msg)
	}
	dp, msg := e.joinDataParallel()
	if msg != "" {
		return fatal("core.py:720", msg)
	}
	delay := e.knobs.float("SIM_ENGINE_START_DELAY", 0.2)
	logAt("INFO", "core.py:68", "Initializing a V1 LLM engine (v%s) with config: model='%s', served_model_name=%s, max_seq_len=%d, tensor_parallel_size=%d, data_parallel_size=%d, role=%s, kv_rank=%d",
		simVllmVersion, e.model, e.served, e.maxModelLen, e.args.intOr("tensor-parallel-size", 1), e.dpSize, e.role, e.kvRank)
	time.Sleep(time.Duration(delay * float64(time.Second)))
	if msg := e.startCore(); msg != "" {
		return fatal("kv_cache_utils.py:578", msg)
	}
	switch e.knobs.get("SIM_ENGINE_FAULT") {
	case "die-at-start":
		return fatal("core.py:390", "RuntimeError: simulated engine failure during start-up (SIM_ENGINE_FAULT=die-at-start)")
	case "hang-at-start":
		logAt("INFO", "core.py:88", "waiting for the NPU to answer (SIM_ENGINE_FAULT=hang-at-start)")
		for {
			time.Sleep(time.Hour) // a bare select{} would be reported by Go as a deadlock
		}
	}
	if dp != nil {
		go dp.watch()
	}
	return e.serve()
}

func orAll(h string) string {
	if h == "" {
		return "0.0.0.0"
	}
	return h
}

func (e *engine) checkModel() (int, bool) {
	if strings.HasPrefix(e.model, "/") || strings.HasPrefix(e.model, ".") {
		st, err := os.Stat(e.model)
		if err != nil || !st.IsDir() {
			return fatal("config.py:352", fmt.Sprintf("ValueError: Invalid repository ID or local directory specified: '%s'.\nPlease verify the following requirements:\n1. Provide a valid Hugging Face repository ID.\n2. Specify a local directory that contains a recognized configuration file.", e.model)), true
		}
		if _, err := os.Stat(filepath.Join(e.model, "config.json")); err != nil {
			return fatal("config.py:352", fmt.Sprintf("OSError: %s does not appear to have a file named config.json. Checkout 'https://huggingface.co/%s/tree/None' for available files.", e.model, e.model)), true
		}
		return 0, false
	}
	return fatal("config.py:352", fmt.Sprintf("OSError: We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find them in the cached files. Check your internet connection or see how to run the library in offline mode. (model '%s')", e.model)), true
}

// checkConfig refuses what vLLM's config classes refuse while the engine is built from the
// command line (CacheConfig, ModelConfig, SchedulerConfig, ParallelConfig, SpeculativeConfig).
func (e *engine) checkConfig() string {
	a := e.args
	if u, ok := a.Float["gpu-memory-utilization"]; ok && (u > 1.0 || u <= 0) {
		return fmt.Sprintf("ValueError: GPU memory utilization must be less than 1.0. Got %v.", u)
	}
	if mml, ok := a.Int["max-model-len"]; ok {
		var cfg struct {
			MaxPositionEmbeddings int `json:"max_position_embeddings"`
		}
		if raw, err := os.ReadFile(filepath.Join(e.model, "config.json")); err == nil && json.Unmarshal(raw, &cfg) == nil &&
			cfg.MaxPositionEmbeddings > 0 && mml > cfg.MaxPositionEmbeddings && os.Getenv("VLLM_ALLOW_LONG_MAX_MODEL_LEN") != "1" {
			return fmt.Sprintf("ValueError: User-specified max_model_len (%d) is greater than the derived max_model_len (max_position_embeddings=%d or model_max_length=None in model's config.json). This may lead to incorrect model outputs or CUDA errors. To allow overriding this maximum, set the env var VLLM_ALLOW_LONG_MAX_MODEL_LEN=1", mml, cfg.MaxPositionEmbeddings)
		}
		if mnbt, ok := a.Int["max-num-batched-tokens"]; ok && mnbt < mml && a.Bool["no-enable-chunked-prefill"] {
			return fmt.Sprintf("ValueError: max_num_batched_tokens (%d) is smaller than max_model_len (%d). This effectively limits the maximum sequence length to max_num_batched_tokens and makes vLLM reject longer sequences. Please increase max_num_batched_tokens or decrease max_model_len.", mnbt, mml)
		}
	}
	for _, name := range []string{"tensor-parallel-size", "pipeline-parallel-size", "data-parallel-size", "data-parallel-size-local", "max-num-seqs"} {
		if v, ok := a.Int[name]; ok && v < 1 {
			return fmt.Sprintf("ValueError: %s must be a positive integer, got %d", strings.ReplaceAll(name, "-", "_"), v)
		}
	}
	if local, ok := a.Int["data-parallel-size-local"]; ok && local > a.intOr("data-parallel-size", 1) {
		return fmt.Sprintf("ValueError: data_parallel_size_local (%d) must not exceed data_parallel_size (%d)", local, a.intOr("data-parallel-size", 1))
	}
	if spec := a.JSON["speculative-config"]; spec != nil {
		method, _ := spec["method"].(string)
		if method != "" && !contains([]string{"ngram", "eagle", "eagle3", "medusa", "mlp_speculator", "draft_model", "deepseek_mtp"}, method) {
			return fmt.Sprintf("ValueError: Unsupported speculative method: '%s'", method)
		}
		if n, ok := asInt(spec["num_speculative_tokens"]); spec["num_speculative_tokens"] != nil && (!ok || n < 1) {
			return fmt.Sprintf("ValueError: num_speculative_tokens must be a positive integer, got %v", spec["num_speculative_tokens"])
		}
	}
	if kv := a.JSON["kv-transfer-config"]; kv != nil && kv["kv_connector"] != nil && kv["kv_role"] == nil {
		return "ValueError: Please specify kv_disagg_role when kv_connector is set, supported roles are ('kv_producer', 'kv_consumer', 'kv_both')"
	}
	return ""
}

// checkPD validates what the llmdatadist/HCCL connector would trip over: the kv transfer
// config, both ranktables, this host and its devices in them, and kv role/rank/size against
// the group layout (prefill groups 0..P-1, then decode).
func (e *engine) checkPD() string {
	kv := e.args.JSON["kv-transfer-config"]
	if kv == nil {
		e.role = "standalone"
		return ""
	}
	e.kvRole, _ = kv["kv_role"].(string)
	switch e.kvRole {
	case "kv_producer":
		e.role = "prefill"
	case "kv_consumer":
		e.role = "decode"
	default:
		return fmt.Sprintf("ValueError: Unsupported kv_role: %v. Supported roles are ['kv_producer', 'kv_consumer']", kv["kv_role"])
	}
	rank, ok := asInt(kv["kv_rank"])
	if !ok {
		return fmt.Sprintf("ValueError: kv_rank must be an integer, got %v", kv["kv_rank"])
	}
	size, ok := asInt(kv["kv_parallel_size"])
	if !ok {
		return fmt.Sprintf("ValueError: kv_parallel_size must be an integer, got %v", kv["kv_parallel_size"])
	}
	e.kvRank, e.kvParallel = rank, size
	e.engineID = fmt.Sprint(kv["engine_id"])
	if kv["engine_id"] == nil {
		e.engineID = strconv.Itoa(rank)
	}
	if r := os.Getenv("ROLE"); r != "" && r != e.role {
		return fmt.Sprintf("ValueError: ROLE=%s but kv_role is %s (a %s)", r, e.kvRole, e.role)
	}
	var local localRanktable
	if err := readJSONFile("RANK_TABLE_FILE_PATH", os.Getenv("RANK_TABLE_FILE_PATH"), &local); err != nil {
		return err.Error()
	}
	var global globalRanktable
	if err := readJSONFile("GLOBAL_RANK_TABLE_FILE_PATH", os.Getenv("GLOBAL_RANK_TABLE_FILE_PATH"), &global); err != nil {
		return err.Error()
	}
	e.global = &global
	e.clusterID = global.clusterID()
	ips := ownIPv4s()
	var me *rtServer
	for i := range local.ServerList {
		if contains(ips, local.ServerList[i].ServerIP) {
			me = &local.ServerList[i]
			break
		}
	}
	if me == nil {
		return fmt.Sprintf("ValueError: Local IP %v is NOT in local_ranktable %s, please check the ranktable (server_ip) against this host's address", ips, os.Getenv("RANK_TABLE_FILE_PATH"))
	}
	e.hostIP = me.ServerIP
	if e.role == "decode" {
		for _, ip := range splitList(os.Getenv("LOCAL_DECODE_SERVER_IP_LIST")) {
			found := false
			for _, s := range local.ServerList {
				found = found || s.ServerIP == ip
			}
			if !found {
				return fmt.Sprintf("ValueError: decode server ip %s is NOT in local_ranktable, please check the DECODE_SERVER_IP_LIST env", ip)
			}
		}
	}
	e.devices = splitList(os.Getenv("ASCEND_RT_VISIBLE_DEVICES"))
	if len(e.devices) == 0 && e.role == "decode" {
		// One decode API server per device: its device is its DP rank minus the host's offset.
		if off, err := strconv.Atoi(os.Getenv("SERVER_OFFSET")); err == nil {
			idx := envInt("VLLM_DP_RANK_LOCAL", envInt("VLLM_DP_RANK", 0)) - off
			if idx < 0 || idx >= len(me.Device) {
				return fmt.Sprintf("ValueError: DP rank %d (device index %d on %s) has no device in local_ranktable %s (%d devices listed)", envInt("VLLM_DP_RANK", 0), idx, e.hostIP, os.Getenv("RANK_TABLE_FILE_PATH"), len(me.Device))
			}
			e.devices = []string{me.Device[idx].DeviceID}
		}
	}
	hccn, _ := readDeviceTable(hccnConfPath())
	for _, id := range e.devices {
		d, ok := me.hasDevice(id)
		if !ok {
			return fmt.Sprintf("ValueError: device %s (ASCEND_RT_VISIBLE_DEVICES=%s) is NOT in local_ranktable %s for server %s", id, os.Getenv("ASCEND_RT_VISIBLE_DEVICES"), os.Getenv("RANK_TABLE_FILE_PATH"), e.hostIP)
		}
		if n, err := strconv.Atoi(id); err == nil && hccn != nil {
			if hd := hccn[n]; hd != nil && hd.IP != d.DeviceIP {
				return fmt.Sprintf("RuntimeError: HCCL link setup failed: ranktable gives device %s of %s the ip %s but the NPU reports %q (hccn_tool -i %s -ip -g)", id, e.hostIP, d.DeviceIP, hd.IP, id)
			}
		}
	}
	groupID := -1
	for _, g := range global.ServerGroupList {
		for _, s := range g.ServerList {
			if s.ServerIP != e.hostIP {
				continue
			}
			all := true
			for _, id := range e.devices {
				_, ok := s.hasDevice(id)
				all = all && ok
			}
			if all && (groupID < 0 || len(e.devices) > 0) {
				groupID = groupNumber(g)
			}
		}
	}
	if groupID < 0 {
		return fmt.Sprintf("ValueError: server %s with devices %v is NOT in the global ranktable %s", e.hostIP, e.devices, os.Getenv("GLOBAL_RANK_TABLE_FILE_PATH"))
	}
	e.prefillPods = envInt("PREFILL_POD_NUM", 1)
	groups := len(global.ServerGroupList)
	if e.kvParallel != groups {
		return fmt.Sprintf("ValueError: kv_parallel_size=%d but the global ranktable has %d server groups (%d prefill + decode)", e.kvParallel, groups, e.prefillPods)
	}
	if e.role == "prefill" {
		if groupID >= e.prefillPods {
			return fmt.Sprintf("ValueError: kv_role kv_producer but %s is in group %d, a decode group (PREFILL_POD_NUM=%d)", e.hostIP, groupID, e.prefillPods)
		}
		if e.kvRank != groupID {
			return fmt.Sprintf("ValueError: kv_rank=%d but %s is prefill group %d of the global ranktable", e.kvRank, e.hostIP, groupID)
		}
	} else {
		if groupID < e.prefillPods {
			return fmt.Sprintf("ValueError: kv_role kv_consumer but %s is in group %d, a prefill group (PREFILL_POD_NUM=%d)", e.hostIP, groupID, e.prefillPods)
		}
		if e.kvRank != e.prefillPods {
			return fmt.Sprintf("ValueError: decode kv_rank=%d but it must be PREFILL_POD_NUM=%d", e.kvRank, e.prefillPods)
		}
	}
	logAt("INFO", "llmdatadist_connector.py:98", "PD role %s, kv_rank %d of %d, host %s, devices %v, cluster %s", e.role, e.kvRank, e.kvParallel, e.hostIP, e.devices, e.clusterID)
	return ""
}

// checkParallel refuses a tensor-parallel size this node cannot hold; with the Ray backend it
// waits for the placement group as vLLM does.
func (e *engine) checkParallel() string {
	tp := e.args.intOr("tensor-parallel-size", 1)
	if e.args.Str["distributed-executor-backend"] == "ray" {
		return e.awaitPlacementGroup(tp)
	}
	if len(e.devices) > 0 && e.role == "prefill" && tp > len(e.devices) {
		return fmt.Sprintf("ValueError: World size (%d) is larger than the number of available NPUs (%d) in this node.", tp, len(e.devices))
	}
	return ""
}

// awaitPlacementGroup is vLLM's _wait_until_pg_ready: one bundle per NPU of the tensor-parallel
// group, the first on this node, placed once the Ray group has enough NPUs on enough nodes (every
// server of this prefill instance in the global ranktable). vLLM logs a waiting line at doubling
// intervals (10 s, 20 s, …) and gives up after PG_WAIT_TIMEOUT (1800 s); the simulator gives up
// after SIM_ENGINE_PG_TIMEOUT (default 120 s, so a test that gets the group wrong ends in minutes).
func (e *engine) awaitPlacementGroup(tp int) string {
	addr := rayAddress("")
	need := 1
	if e.global != nil && e.role == "prefill" {
		for _, g := range e.global.ServerGroupList {
			if groupNumber(g) == e.kvRank {
				need = len(g.ServerList)
			}
		}
	}
	specs := fmt.Sprintf("[{'GPU': 1.0, 'node:%s': 0.001}%s]", e.hostIP, strings.Repeat(", {'GPU': 1.0}", max(tp-1, 0)))
	timeout := time.Duration(e.knobs.float("SIM_ENGINE_PG_TIMEOUT", 120) * float64(time.Second))
	started := time.Now()
	interval := 10 * time.Second
	nextLog := started.Add(interval)
	for {
		nodes, err := rayNodes(addr)
		if err != nil {
			return fmt.Sprintf("ConnectionError: Could not find any running Ray instance at %s. Please specify the one to connect to by setting `--address` flag or `RAY_ADDRESS` environment variable.", addr)
		}
		if len(nodes) >= need && totalGPUs(nodes) >= tp {
			if waited := time.Since(started); waited > time.Second {
				logAt("INFO", "ray_utils.py:370", "placement group ready after %d seconds: %d node(s), %d GPU(s)", int(waited.Seconds()), len(nodes), totalGPUs(nodes))
			}
			return ""
		}
		if time.Since(started) >= timeout {
			return fmt.Sprintf("ValueError: Cannot provide a placement group of placement_group_specs=%s within %d seconds. See `ray status` and `ray list nodes` to make sure the cluster has enough resources. (Ray has %d node(s) with %d GPU(s); this instance spans %d node(s), tensor parallel size %d)", specs, int(timeout.Seconds()), len(nodes), totalGPUs(nodes), need, tp)
		}
		if time.Now().After(nextLog) {
			logAt("INFO", "ray_utils.py:352", "Waiting for creating a placement group of specs for %d seconds. specs=%s. Check `ray status` and `ray list nodes` to see if you have enough resources, and make sure the IP addresses used by ray cluster are the same as VLLM_HOST_IP environment variable specified in each node if you are running on a multi-node.", int(time.Since(started).Seconds()), specs)
			interval *= 2
			nextLog = nextLog.Add(interval)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func asInt(v any) (int, bool) {
	switch x := v.(type) {
	case float64:
		if x == float64(int(x)) {
			return int(x), true
		}
	case string:
		n, err := strconv.Atoi(x)
		return n, err == nil
	case json.Number:
		n, err := x.Int64()
		return int(n), err == nil
	}
	return 0, false
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}

// startCore sizes the KV cache and starts the performance model (core.go). Like vLLM, an engine
// whose KV cache cannot hold one request of max_model_len tokens does not start.
func (e *engine) startCore() string {
	e.cfg = configFromArgs(e.args, e.maxModelLen)
	cache := paramCache{every: 50 * time.Millisecond, read: func() perfParams {
		e.knobs.reload()
		return readParams(e.knobs, e.cfg)
	}}
	p := cache.get()
	if need := blocksFor(p, e.maxModelLen); need > p.KVBlocks {
		gib := func(blocks int) float64 { return float64(blocks*p.BlockSize) * p.KVBytesPerToken / (1 << 30) }
		return fmt.Sprintf("ValueError: To serve at least one request with the models's max seq len (%d), (%.2f GiB KV cache is needed, which is larger than the available KV cache memory (%.2f GiB). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.", e.maxModelLen, gib(need), gib(p.KVBlocks))
	}
	logAt("INFO", "kv_cache_utils.py:634", "GPU KV cache size: %d tokens", p.KVBlocks*p.BlockSize)
	logAt("INFO", "kv_cache_utils.py:637", "Maximum concurrency for %d tokens per request: %.2fx", e.maxModelLen, float64(p.KVBlocks*p.BlockSize)/float64(e.maxModelLen))
	m := newVllmMetrics(e.served, e.dpRank, e.maxModelLen, e.cacheInfo(p), time.Now())
	e.core = newEngineCore(cache.get, m)
	e.core.start()
	return ""
}

// cacheInfo: the labels of vllm:cache_config_info (vLLM's CacheConfig fields the simulator knows).
func (e *engine) cacheInfo(p perfParams) map[string]string {
	pyBool := func(b bool) string {
		if b {
			return "True"
		}
		return "False"
	}
	override := "None"
	if e.cfg.gpuBlocks > 0 {
		override = strconv.Itoa(e.cfg.gpuBlocks)
	}
	util := 0.9
	if u, ok := e.args.Float["gpu-memory-utilization"]; ok {
		util = u
	}
	dtype := e.args.Str["kv-cache-dtype"]
	if dtype == "" {
		dtype = "auto"
	}
	return map[string]string{
		"block_size": strconv.Itoa(p.BlockSize), "cache_dtype": dtype, "calculate_kv_scales": "False",
		"cpu_offload_gb": "0", "enable_prefix_caching": pyBool(!e.args.Bool["no-enable-prefix-caching"]),
		"gpu_memory_utilization": pyRepr(util), "is_attention_free": "False", "num_cpu_blocks": "0",
		"num_gpu_blocks": strconv.Itoa(p.KVBlocks), "num_gpu_blocks_override": override,
		"prefix_caching_hash_algo": "builtin", "sliding_window": "None", "swap_space": "4",
	}
}
