package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A fake `ray` CLI, only what a multi-node prefill needs: a head that workers join, stop, status.
// The head is a small daemon on the GCS port counting the nodes whose join connection is open,
// so a worker can only join while the head is up and the engine can check the node count.

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
		if has("head") {
			port := rayDefaultPort
			if p, ok := opts["port"]; ok {
				port, _ = strconv.Atoi(p)
			}
			return rayStartHead(port)
		}
		if addr, ok := opts["address"]; ok {
			return rayStartWorker(addr)
		}
		fmt.Fprintln(os.Stderr, "ray start: either --head or --address=<head ip>:<port> is required")
		return 1
	case "stop":
		return rayStop()
	case "status":
		addr := opts["address"]
		if addr == "" {
			addr = fmt.Sprintf("127.0.0.1:%d", rayDefaultPort)
		}
		n, err := rayNodeCount(addr)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ConnectionError: Could not find any running Ray instance at %s. Please specify the one to connect to by setting `--address` flag or `RAY_ADDRESS` environment variable.\n", addr)
			return 1
		}
		fmt.Printf("======== Cluster status ========\nNode status\n---------------------------------------------------------------\nActive:\n %d node(s)\n", n)
		return 0
	case "__head":
		return rayHeadDaemon(args[1])
	case "__worker":
		return rayWorkerDaemon(args[1])
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
func raySpawn(kind, arg string) (int, error) {
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
	cmd := exec.Command(self, "__"+kind, arg)
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

func rayStartHead(port int) int {
	if pid := rayRecordedPid("head"); pid != 0 {
		fmt.Fprintf(os.Stderr, "ConnectionError: Ray is already running at %s:%d (pid %d). Run `ray stop` first.\n", localIP(), port, pid)
		return 1
	}
	if _, err := raySpawn("head", strconv.Itoa(port)); err != nil {
		fmt.Fprintf(os.Stderr, "ray start --head failed: %v\n", err)
		return 1
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; i < 100; i++ {
		if _, err := rayNodeCount(addr); err == nil {
			fmt.Printf("Local node IP: %s\n\n--------------------\nRay runtime started.\n--------------------\n\nNext steps\n  To add another node to this Ray cluster, run\n    ray start --address='%s:%d'\n", localIP(), localIP(), port)
			return 0
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "ray start --head: the GCS server did not come up on port %d (see %s/head.log)\n", port, rayDir())
	return 1
}

func rayStartWorker(addr string) int {
	if !strings.Contains(addr, ":") {
		addr = fmt.Sprintf("%s:%d", addr, rayDefaultPort)
	}
	if _, err := rayNodeCount(addr); err != nil {
		fmt.Fprintf(os.Stderr, "ConnectionError: Unable to connect to GCS at %s. Check that (1) Ray GCS with matching version started successfully at the specified address, and (2) there is no firewall setting preventing access.\n", addr)
		return 1
	}
	if pid := rayRecordedPid("worker"); pid != 0 {
		fmt.Fprintf(os.Stderr, "ConnectionError: a Ray node is already running on this machine (pid %d). Run `ray stop` first.\n", pid)
		return 1
	}
	if _, err := raySpawn("worker", addr); err != nil {
		fmt.Fprintf(os.Stderr, "ray start failed: %v\n", err)
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

func rayNodeCount(addr string) (int, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte("STATUS\n")); err != nil {
		return 0, err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return 0, err
	}
	var n int
	if _, err := fmt.Sscanf(line, "NODES %d", &n); err != nil {
		return 0, fmt.Errorf("bad answer %q", line)
	}
	return n, nil
}

func rayHeadDaemon(portStr string) int {
	ln, err := net.Listen("tcp", ":"+portStr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "GCS server failed to listen: %v\n", err)
		return 1
	}
	var mu sync.Mutex
	workers := 0
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
				n := workers + 1
				mu.Unlock()
				fmt.Fprintf(c, "NODES %d\n", n)
			case strings.HasPrefix(line, "JOIN"):
				mu.Lock()
				workers++
				mu.Unlock()
				fmt.Printf("node joined: %s", strings.TrimPrefix(line, "JOIN "))
				fmt.Fprintln(c, "OK")
				_, _ = r.ReadString('\n') // held open for the worker's lifetime
				mu.Lock()
				workers--
				mu.Unlock()
				fmt.Printf("node left: %s", strings.TrimPrefix(line, "JOIN "))
			}
		}(c)
	}
}

func rayWorkerDaemon(addr string) int {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot reach the head at %s: %v\n", addr, err)
		return 1
	}
	fmt.Fprintf(c, "JOIN %s\n", localIP())
	// The worker lives as long as the head: when the head goes, the node is dead too.
	buf := make([]byte, 64)
	for {
		if _, err := c.Read(buf); err != nil {
			fmt.Println("lost the connection to the head; exiting")
			return 1
		}
	}
}
