package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Ranktable formats as pd_ranktable_tools.py writes them (omniinfer-behaviour §4): ids are
// strings inside `device`, server_count is a string or a number depending on the producer.
type rtDevice struct {
	DeviceID string `json:"device_id"`
	DeviceIP string `json:"device_ip"`
	RankID   string `json:"rank_id"`
}

type rtServer struct {
	ServerID string     `json:"server_id"`
	ServerIP string     `json:"server_ip"`
	Device   []rtDevice `json:"device"`
}

type rtGroup struct {
	GroupID    string     `json:"group_id"`
	ServerList []rtServer `json:"server_list"`
}

type localRanktable struct {
	Version    string     `json:"version"`
	Status     string     `json:"status"`
	ServerList []rtServer `json:"server_list"`
}

type globalRanktable struct {
	Version         string    `json:"version"`
	Status          string    `json:"status"`
	ServerGroupList []rtGroup `json:"server_group_list"`
}

func readJSONFile(env, path string, into any) error {
	if path == "" {
		return fmt.Errorf("KeyError: '%s' (the PD connector needs it; pd_run.sh exports it)", env)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("FileNotFoundError: [Errno 2] No such file or directory: '%s' (%s)", path, env)
		}
		return fmt.Errorf("OSError: %v (%s)", err, env)
	}
	if err := json.Unmarshal(b, into); err != nil {
		return fmt.Errorf("json.decoder.JSONDecodeError: %v: '%s' (%s)", err, path, env)
	}
	return nil
}

func (s rtServer) hasDevice(id string) (rtDevice, bool) {
	for _, d := range s.Device {
		if d.DeviceID == id {
			return d, true
		}
	}
	return rtDevice{}, false
}

// A cluster's identity: the same global ranktable gives the same id on every host, whatever
// the JSON formatting, so a decode can tell a prefill of its own cluster from a stranger.
func (g *globalRanktable) clusterID() string {
	var parts []string
	for _, grp := range g.ServerGroupList {
		for _, s := range grp.ServerList {
			var devs []string
			for _, d := range s.Device {
				devs = append(devs, d.DeviceID+"="+d.DeviceIP)
			}
			sort.Strings(devs)
			parts = append(parts, grp.GroupID+"/"+s.ServerIP+"/"+strings.Join(devs, ","))
		}
	}
	h := sha256.Sum256([]byte(strings.Join(parts, ";")))
	return hex.EncodeToString(h[:8])
}

// ownIPv4s lists this host's addresses; with --net=host a container sees the host's interfaces.
func ownIPv4s() []string {
	if ip := os.Getenv("SIM_ENGINE_HOST_IP"); ip != "" {
		return []string{ip}
	}
	var out []string
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			out = append(out, n.IP.String())
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

func groupNumber(g rtGroup) int {
	n, err := strconv.Atoi(g.GroupID)
	if err != nil {
		return -1
	}
	return n
}
