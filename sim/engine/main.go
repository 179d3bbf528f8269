// Command omni-sim stands in for the hardware and the inference engine on simulated hosts.
// One static binary answers under several names (hard links or symlinks), so a host or an
// image only has to carry one file: vllm, hccn_tool, npu-smi, ray.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	// `omni-sim <tool> …` lets scripts reach every tool through the one file.
	if name == "omni-sim" {
		if len(args) == 0 {
			fmt.Fprintln(os.Stderr, "usage: omni-sim vllm|hccn_tool|npu-smi|ray …")
			os.Exit(2)
		}
		name, args = args[0], args[1:]
	}
	switch strings.TrimSuffix(name, ".exe") {
	case "vllm":
		os.Exit(vllmMain(args))
	case "hccn_tool":
		os.Exit(hccnMain(args))
	case "npu-smi":
		os.Exit(npuSmiMain(args))
	case "ray":
		os.Exit(rayMain(args))
	default:
		fmt.Fprintf(os.Stderr, "omni-sim: unknown tool %q\n", name)
		os.Exit(2)
	}
}
