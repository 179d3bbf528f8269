package main

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A fake `ray` CLI, only what a multi-node prefill needs: a head that workers join, stop,
// `status` and `list nodes` in Ray's own layout. The head is a small daemon on the GCS port that
// knows the nodes whose join connection is open (address and GPUs), so a worker can only join
// while the head is up, and the engine can wait for its placement group as vLLM does.
//
// Fault knob SIM_RAY_FAULT (environment or the host's knob file, like the engine's):
//   refuse-join       `ray start --address` fails as if the head's GCS were unreachable
//   die-after-join    `ray start --address` reports success, but the node dies before joining

const rayDefaultPort = 6379

func rayDir() string {
	if d := os.Getenv("SIM_RAY_DIR"); d != "" {
		return d
	}
	return "/tmp/ray"
}

func rayMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "Usage: ray [start|stop|status] …")
		return 2
	}
	opts := map[string]string{}
	var flags []string
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			continue
		}
		k, v, hasV := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		k = strings.ReplaceAll(k, "_", "-")
		switch k {
		case "head", "block", "force", "disable-usage-stats", "include-dashboard":
			flags = append(flags, k)
			if hasV {
				opts[k] = v
			}
			continue
		}
		if !hasV && i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			v = args[i+1]
			i++
		}
		opts[k] = v
	}
	has := func(f string) bool {
		for _, x := range flags {
			if x == f {
				return true
			}
		}
		return false
	}
	switch args[0] {
	case "start":
		gpus, _ := strconv.Atoi(opts["num-gpus"])
		if has("head") {
			port := rayDefaultPort
			if p, ok := opts["port"]; ok {
				port, _ = strconv.Atoi(p)
			}
			return rayStartHead(port, gpus)
		}
		if addr, ok := opts["address"]; ok {
			return rayStartWorker(addr, gpus)
		}
		fmt.Fprintln(os.Stderr, "ray start: either --head or --address=<head ip>:<port> is required")
		return 1
	case "stop":
		return rayStop()
	case "status":
		nodes, addr, ok := rayNodesOrComplain(opts["address"])
		if !ok {
			return 1
		}
		printRayStatus(nodes, addr)
		return 0
	case "list":
		if len(args) < 2 || args[1] != "nodes" {
			fmt.Fprintln(os.Stderr, "ray list: the simulator lists only nodes (`ray list nodes`)")
			return 2
		}
		if f, ok := opts["filter"]; ok && strings.ReplaceAll(f, " ", "") != "state=ALIVE" {
			fmt.Fprintf(os.Stderr, "ray list nodes: the simulator knows only alive nodes (--filter state=ALIVE), got %q\n", f)
			return 2
		}
		nodes, _, ok := rayNodesOrComplain(opts["address"])
		if !ok {
			return 1
		}
		printRayNodes(nodes)
		return 0
	case "__head":
		return rayHeadDaemon(args[1], args[2])
	case "__worker":
		return rayWorkerDaemon(args[1], args[2], args[3])
	}
	fmt.Fprintf(os.Stderr, "ray: unknown command %q\n", args[0])
	return 2
}

func localIP() string {
	ips := ownIPv4s()
	if len(ips) > 0 {
		return ips[0]
	}
	return "127.0.0.1"
}

// Starts this same binary as a detached daemon (own session) and records its pid.
func raySpawn(kind string, args ...string) (int, error) {
	if err := os.MkdirAll(rayDir(), 0o755); err != nil {
		return 0, err
	}
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	log, err := os.OpenFile(filepath.Join(rayDir(), kind+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer log.Close()
	cmd := exec.Command(self, append([]string{"__" + kind}, args...)...)
	cmd.Args[0] = "ray"
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	pid := cmd.Process.Pid
	_ = os.WriteFile(filepath.Join(rayDir(), kind+".pid"), []byte(strconv.Itoa(pid)), 0o644)
	_ = cmd.Process.Release()
	return pid, nil
}

// Returns the pid recorded for a daemon kind if that process still is our daemon.
func rayRecordedPid(kind string) int {
	b, err := os.ReadFile(filepath.Join(rayDir(), kind+".pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "__"+kind) {
		return 0
	}
	return pid
}

func rayStartHead(port, gpus int) int {
	if pid := rayRecordedPid("head"); pid != 0 {
		fmt.Fprintf(os.Stderr, "ConnectionError: Ray is already running at %s:%d (pid %d). Run `ray stop` first.\n", localIP(), port, pid)
		return 1
	}
	if _, err := raySpawn("head", strconv.Itoa(port), strconv.Itoa(gpus)); err != nil {
		fmt.Fprintf(os.Stderr, "ray start --head failed: %v\n", err)
		return 1
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; i < 100; i++ {
		if _, err := rayNodes(addr); err == nil {
			fmt.Printf("Local node IP: %s\n\n--------------------\nRay runtime started.\n--------------------\n\nNext steps\n  To add another node to this Ray cluster, run\n    ray start --address='%s:%d'\n", localIP(), localIP(), port)
			return 0
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "ray start --head: the GCS server did not come up on port %d (see %s/head.log)\n", port, rayDir())
	return 1
}

func rayStartWorker(addr string, gpus int) int {
	if !strings.Contains(addr, ":") {
		addr = fmt.Sprintf("%s:%d", addr, rayDefaultPort)
	}
	fault := newKnobs(0, "ray").get("SIM_RAY_FAULT")
	if _, err := rayNodes(addr); err != nil || fault == "refuse-join" {
		fmt.Fprintf(os.Stderr, "ConnectionError: Unable to connect to GCS at %s. Check that (1) Ray GCS with matching version started successfully at the specified address, and (2) there is no firewall setting preventing access.\n", addr)
		return 1
	}
	if pid := rayRecordedPid("worker"); pid != 0 {
		fmt.Fprintf(os.Stderr, "ConnectionError: a Ray node is already running on this machine (pid %d). Run `ray stop` first.\n", pid)
		return 1
	}
	if _, err := raySpawn("worker", addr, strconv.Itoa(gpus), fault); err != nil {
		fmt.Fprintf(os.Stderr, "ray start failed: %v\n", err)
		return 1
	}
	// Like Ray's, the start returns once the node is registered with the head.
	if fault != "die-after-join" && !rayAwaitNode(addr, localIP(), 5*time.Second) {
		fmt.Fprintf(os.Stderr, "ray start: this node did not register with the head at %s (see %s/worker.log)\n", addr, rayDir())
		return 1
	}
	fmt.Printf("Local node IP: %s\n\n--------------------\nRay runtime started.\n--------------------\n", localIP())
	return 0
}

func rayStop() int {
	n := 0
	for _, kind := range []string{"worker", "head"} {
		if pid := rayRecordedPid(kind); pid != 0 {
			if syscall.Kill(pid, syscall.SIGTERM) == nil {
				n++
			}
		}
		_ = os.Remove(filepath.Join(rayDir(), kind+".pid"))
	}
	if n == 0 {
		fmt.Println("Did not find any active Ray processes.")
	} else {
		fmt.Printf("Stopped all %d Ray processes.\n", n)
	}
	return 0
}

// rayNode is one node of the Ray group as the head knows it.
type rayNode struct {
	IP   string
	GPUs int
	Head bool
}

// The node id Ray would show: 56 hex digits, here derived from the node's address.
func (n rayNode) id() string {
	return fmt.Sprintf("%x", sha256.Sum256([]byte("ray-node "+n.IP)))[:56]
}

func totalGPUs(nodes []rayNode) int {
	n := 0
	for _, x := range nodes {
		n += x.GPUs
	}
	return n
}

func rayAddress(flag string) string {
	if flag != "" {
		return flag
	}
	if a := os.Getenv("RAY_ADDRESS"); a != "" && a != "auto" {
		return a
	}
	return fmt.Sprintf("127.0.0.1:%d", rayDefaultPort)
}

func rayNodesOrComplain(flag string) ([]rayNode, string, bool) {
	addr := rayAddress(flag)
	nodes, err := rayNodes(addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ConnectionError: Could not find any running Ray instance at %s. Please specify the one to connect to by setting `--address` flag or `RAY_ADDRESS` environment variable.\n", addr)
		return nil, addr, false
	}
	return nodes, addr, true
}

// The layout of Ray's `ray status`: one line per active node, then the resources.
func printRayStatus(nodes []rayNode, addr string) {
	now := time.Now().Format("2006-01-02 15:04:05.000000")
	fmt.Printf("======== Autoscaler status: %s ========\nNode status\n%s\nActive:\n", now, strings.Repeat("-", 63))
	for _, n := range nodes {
		fmt.Printf(" 1 node_%s\n", n.id())
	}
	fmt.Printf("Pending:\n (no pending nodes)\nRecent failures:\n (no failures)\n\nResources\n%s\nUsage:\n", strings.Repeat("-", 63))
	fmt.Printf(" 0.0/%d.0 GPU\n\nDemands:\n (no resource demands)\n", totalGPUs(nodes))
}

// The layout of Ray's `ray list nodes` (the columns the deploy reads: NODE_IP and STATE).
func printRayNodes(nodes []rayNode) {
	now := time.Now().Format("2006-01-02 15:04:05.000000")
	fmt.Printf("======== List: %s ========\nStats:\n%s\nTotal: %d\n\nTable:\n%s\n", now, strings.Repeat("-", 30), len(nodes), strings.Repeat("-", 30))
	fmt.Printf("    %-58s%-16s%-16s%-9s%s\n", "NODE_ID", "NODE_IP", "IS_HEAD_NODE", "STATE", "RESOURCES_TOTAL")
	for i, n := range nodes {
		head := "False"
		if n.Head {
			head = "True"
		}
		fmt.Printf("%2d  %-58s%-16s%-16s%-9sGPU: %d.0\n", i, n.id(), n.IP, head, "ALIVE", n.GPUs)
	}
}

// rayNodes asks the head daemon for the nodes of its group: "NODES <n>" then one
// "NODE <ip> <gpus> head|worker" line each.
func rayNodes(addr string) ([]rayNode, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte("STATUS\n")); err != nil {
		return nil, err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	var n int
	if _, err := fmt.Sscanf(line, "NODES %d", &n); err != nil {
		return nil, fmt.Errorf("bad answer %q", line)
	}
	nodes := make([]rayNode, 0, n)
	for i := 0; i < n; i++ {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		var node rayNode
		var kind string
		if _, err := fmt.Sscanf(line, "NODE %s %d %s", &node.IP, &node.GPUs, &kind); err != nil {
			return nil, fmt.Errorf("bad node line %q", line)
		}
		node.Head = kind == "head"
		nodes = append(nodes, node)
	}
	return nodes, nil
}

func rayHeadDaemon(portStr, gpusStr string) int {
	ln, err := net.Listen("tcp", ":"+portStr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "GCS server failed to listen: %v\n", err)
		return 1
	}
	gpus, _ := strconv.Atoi(gpusStr)
	var mu sync.Mutex
	head := rayNode{IP: localIP(), GPUs: gpus, Head: true}
	workers := map[net.Conn]rayNode{}
	for {
		c, err := ln.Accept()
		if err != nil {
			return 1
		}
		go func(c net.Conn) {
			defer c.Close()
			r := bufio.NewReader(c)
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch {
			case strings.HasPrefix(line, "STATUS"):
				mu.Lock()
				nodes := []rayNode{head}
				for _, w := range workers {
					nodes = append(nodes, w)
				}
				mu.Unlock()
				sort.Slice(nodes[1:], func(i, j int) bool { return nodes[1+i].IP < nodes[1+j].IP })
				fmt.Fprintf(c, "NODES %d\n", len(nodes))
				for _, n := range nodes {
					kind := "worker"
					if n.Head {
						kind = "head"
					}
					fmt.Fprintf(c, "NODE %s %d %s\n", n.IP, n.GPUs, kind)
				}
			case strings.HasPrefix(line, "JOIN"):
				var w rayNode
				if _, err := fmt.Sscanf(line, "JOIN %s %d", &w.IP, &w.GPUs); err != nil {
					fmt.Fprintf(c, "ERR bad join %q\n", line)
					return
				}
				mu.Lock()
				workers[c] = w
				mu.Unlock()
				fmt.Printf("node joined: %s (%d GPU)\n", w.IP, w.GPUs)
				fmt.Fprintln(c, "OK")
				_, _ = r.ReadString('\n') // held open for the worker's lifetime
				mu.Lock()
				delete(workers, c)
				mu.Unlock()
				fmt.Printf("node left: %s\n", w.IP)
			}
		}(c)
	}
}

func rayAwaitNode(addr, ip string, within time.Duration) bool {
	for until := time.Now().Add(within); time.Now().Before(until); time.Sleep(50 * time.Millisecond) {
		nodes, _ := rayNodes(addr)
		for _, n := range nodes {
			if n.IP == ip {
				return true
			}
		}
	}
	return false
}

func rayWorkerDaemon(addr, gpus, fault string) int {
	if fault == "die-after-join" {
		fmt.Println("raylet died right after start (SIM_RAY_FAULT=die-after-join); this node never joined")
		return 1
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot reach the head at %s: %v\n", addr, err)
		return 1
	}
	fmt.Fprintf(c, "JOIN %s %s\n", localIP(), gpus)
	// The worker lives as long as the head: when the head goes, the node is dead too.
	buf := make([]byte, 64)
	for {
		if _, err := c.Read(buf); err != nil {
			fmt.Println("lost the connection to the head; exiting")
			return 1
		}
	}
}
