package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault and timing knobs come from the environment and from a knob file on the host (the
// seed's containers bind-mount /data, so a test can change a running host's behaviour by
// writing /data/omni-sim/engine.env there). A key may be scoped to one server with
// "@<api port>" or to a role with "@prefill" / "@decode"; scoped beats plain, file beats env.
type knobs struct {
	path    string
	port    int
	role    string
	mu      sync.Mutex
	modTime time.Time
	file    map[string]string
}

func knobFilePath() string {
	if p := os.Getenv("SIM_ENGINE_KNOBS_FILE"); p != "" {
		return p
	}
	return "/data/omni-sim/engine.env"
}

func newKnobs(port int, role string) *knobs {
	k := &knobs{path: knobFilePath(), port: port, role: role}
	k.reload()
	return k
}

func (k *knobs) reload() {
	st, err := os.Stat(k.path)
	k.mu.Lock()
	defer k.mu.Unlock()
	if err != nil {
		k.file = nil
		return
	}
	if k.file != nil && st.ModTime().Equal(k.modTime) {
		return
	}
	m := map[string]string{}
	if f, err := os.Open(k.path); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			line = strings.TrimPrefix(line, "export ")
			if key, v, ok := strings.Cut(line, "="); ok {
				m[strings.TrimSpace(key)] = strings.Trim(strings.TrimSpace(v), `"'`)
			}
		}
		f.Close()
	}
	k.file, k.modTime = m, st.ModTime()
}

func (k *knobs) get(key string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	scoped := []string{key + "@" + strconv.Itoa(k.port), key + "@" + k.role}
	for _, s := range scoped {
		if v, ok := k.file[s]; ok {
			return v
		}
	}
	if v, ok := k.file[key]; ok {
		return v
	}
	for _, s := range scoped {
		if v, ok := os.LookupEnv(s); ok {
			return v
		}
	}
	return os.Getenv(key)
}

func (k *knobs) float(key string, def float64) float64 {
	if v := k.get(key); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	}
	return def
}

func (k *knobs) int(key string, def int) int {
	if v := k.get(key); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}
