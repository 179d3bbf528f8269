package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Data parallelism the way the engines couple: DP rank 0 listens on the master address
// (--data-parallel-address / --data-parallel-rpc-port, or VLLM_DP_MASTER_IP/PORT), every other
// rank must reach it, and nobody serves until the whole group has joined. Afterwards the
// group shares its fate: when a member dies, the others stop too (knob SIM_ENGINE_DP_FATE_SHARING=0
// turns that off).
type dpMember struct {
	conns []net.Conn
	share bool
}

func (e *engine) joinDataParallel() (*dpMember, string) {
	e.dpSize = envInt("VLLM_DP_SIZE", e.args.intOr("data-parallel-size", 1))
	e.dpRank = envInt("VLLM_DP_RANK", e.args.intOr("data-parallel-start-rank", 0))
	if e.dpSize <= 1 {
		return nil, ""
	}
	if e.dpRank < 0 || e.dpRank >= e.dpSize {
		return nil, fmt.Sprintf("ValueError: data parallel rank %d is outside 0..%d", e.dpRank, e.dpSize-1)
	}
	ip := os.Getenv("VLLM_DP_MASTER_IP")
	if ip == "" {
		ip = e.args.Str["data-parallel-address"]
	}
	if ip == "" {
		ip = "127.0.0.1"
	}
	port := envInt("VLLM_DP_MASTER_PORT", e.args.intOr("data-parallel-rpc-port", 29550))
	addr := net.JoinHostPort(ip, strconv.Itoa(port))
	timeout := time.Duration(e.knobs.float("SIM_ENGINE_DP_TIMEOUT", 60) * float64(time.Second))
	m := &dpMember{share: e.knobs.get("SIM_ENGINE_DP_FATE_SHARING") != "0"}
	if e.dpRank == 0 {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Sprintf("RuntimeError: DP master could not listen on %s: %v", addr, err)
		}
		logAt("INFO", "core.py:702", "DP rank 0 is the DP master on %s; waiting for %d more rank(s)", addr, e.dpSize-1)
		joined := map[int]net.Conn{}
		deadline := time.Now().Add(timeout)
		for len(joined) < e.dpSize-1 {
			_ = ln.(*net.TCPListener).SetDeadline(deadline)
			c, err := ln.Accept()
			if err != nil {
				ln.Close()
				return nil, fmt.Sprintf("RuntimeError: timed out after %s waiting for the data parallel group: %d of %d ranks joined %s", timeout, len(joined)+1, e.dpSize, addr)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			_ = c.SetReadDeadline(time.Time{})
			var r int
			if err != nil || func() bool { _, e := fmt.Sscanf(line, "JOIN %d", &r); return e != nil }() {
				c.Close()
				continue
			}
			if r <= 0 || r >= e.dpSize || joined[r] != nil {
				fmt.Fprintf(c, "REFUSED rank %d is invalid or taken\n", r)
				c.Close()
				continue
			}
			joined[r] = c
			logAt("INFO", "core.py:710", "DP rank %d joined (%d/%d)", r, len(joined)+1, e.dpSize)
		}
		ln.Close()
		for _, c := range joined {
			fmt.Fprintln(c, "READY")
			m.conns = append(m.conns, c)
		}
		return m, ""
	}
	deadline := time.Now().Add(timeout)
	var c net.Conn
	var lastErr error
	for time.Now().Before(deadline) {
		c, lastErr = net.DialTimeout("tcp", addr, 2*time.Second)
		if lastErr == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if c == nil {
		return nil, fmt.Sprintf("torch.distributed.DistNetworkError: The client socket has timed out after %s while trying to connect to (%s, %d) (DP master for rank %d): %v", timeout, ip, port, e.dpRank, lastErr)
	}
	fmt.Fprintf(c, "JOIN %d\n", e.dpRank)
	_ = c.SetReadDeadline(deadline)
	line, err := bufio.NewReader(c).ReadString('\n')
	_ = c.SetReadDeadline(time.Time{})
	if err != nil || strings.TrimSpace(line) != "READY" {
		c.Close()
		return nil, fmt.Sprintf("RuntimeError: data parallel rank %d was not admitted by the DP master %s: %s", e.dpRank, addr, strings.TrimSpace(orErr(line, err)))
	}
	logAt("INFO", "core.py:716", "DP rank %d joined the group at %s", e.dpRank, addr)
	m.conns = []net.Conn{c}
	return m, ""
}

func orErr(line string, err error) string {
	if err != nil {
		return err.Error()
	}
	return line
}

func (m *dpMember) watch() {
	var once sync.Once
	for _, c := range m.conns {
		go func(c net.Conn) {
			buf := make([]byte, 64)
			for {
				if _, err := c.Read(buf); err != nil {
					if m.share {
						once.Do(func() {
							logAt("ERROR", "core.py:402", "a data parallel peer (%s) is gone; shutting down this engine", c.RemoteAddr())
							os.Exit(1)
						})
					}
					return
				}
			}
		}(c)
	}
}
