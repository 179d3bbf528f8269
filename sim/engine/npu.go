package main

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// The device table is the host's /etc/hccn.conf in the real tool's own format
// (address_<id>=…, netmask_<id>=…). A "# sim-devices=N" line says how many devices exist,
// so a device can exist without an address (the negative case operators hit).
type npuDevice struct {
	ID      int
	IP      string
	Netmask string
}

func hccnConfPath() string {
	if p := os.Getenv("SIM_HCCN_CONF"); p != "" {
		return p
	}
	return "/etc/hccn.conf"
}

func readDeviceTable(path string) (map[int]*npuDevice, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	devs := map[int]*npuDevice{}
	get := func(id int) *npuDevice {
		d := devs[id]
		if d == nil {
			d = &npuDevice{ID: id}
			devs[id] = d
		}
		return d
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "# sim-devices=") {
			n, _ := strconv.Atoi(strings.TrimPrefix(line, "# sim-devices="))
			for i := 0; i < n; i++ {
				get(i)
			}
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		field, idStr, ok := strings.Cut(k, "_")
		if !ok {
			continue
		}
		id, err := strconv.Atoi(idStr)
		if err != nil {
			continue
		}
		switch field {
		case "address":
			get(id).IP = strings.TrimSpace(v)
		case "netmask":
			get(id).Netmask = strings.TrimSpace(v)
		}
	}
	return devs, sc.Err()
}

func hccnMain(args []string) int {
	id := -1
	var op, mode string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "-i":
			if i+1 >= len(args) {
				fmt.Fprintln(os.Stderr, "Error: -i needs a device id")
				return 1
			}
			n, err := strconv.Atoi(args[i+1])
			if err != nil {
				fmt.Fprintf(os.Stderr, "Error: invalid device id %s\n", args[i+1])
				return 1
			}
			id = n
			i++
		case "-g", "-s":
			mode = a
		default:
			if strings.HasPrefix(a, "-") && op == "" {
				op = a
			}
		}
	}
	if id < 0 || op == "" || mode == "" {
		fmt.Fprintln(os.Stderr, "Usage: hccn_tool -i <device_id> -ip -g | -link -g | -net_health -g | -netdetect -g | -gateway -g")
		return 1
	}
	if mode == "-s" {
		fmt.Fprintln(os.Stderr, "hccn_tool (simulated): setting values is not supported; edit the host's /etc/hccn.conf")
		return 1
	}
	devs, err := readDeviceTable(hccnConfPath())
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: cannot read %s: %v\n", hccnConfPath(), err)
		return 1
	}
	d := devs[id]
	if d == nil {
		fmt.Fprintf(os.Stderr, "Error: device id %d is invalid (logic id not found)\n", id)
		return 1
	}
	switch op {
	case "-ip":
		if d.IP == "" {
			fmt.Fprintf(os.Stderr, "dev_id:%d get ip address failed, the ip address is not configured\n", id)
			return 1
		}
		mask := d.Netmask
		if mask == "" {
			mask = "255.255.255.0"
		}
		fmt.Printf("ipaddr:%s\nnetmask:%s\n", d.IP, mask)
	case "-link":
		fmt.Println("link status: UP")
	case "-net_health":
		fmt.Println("net health status: Success")
	case "-netdetect":
		fmt.Printf("netdetect address: %s\n", d.IP)
	case "-gateway":
		fmt.Println("default gateway:0.0.0.0, Iface:eth" + strconv.Itoa(id))
	default:
		fmt.Fprintf(os.Stderr, "Error: unsupported option %s\n", op)
		return 1
	}
	return 0
}

func npuSmiMain(args []string) int {
	if len(args) == 0 || args[0] != "info" {
		fmt.Fprintln(os.Stderr, "Usage: npu-smi info [-l]")
		return 1
	}
	devs, err := readDeviceTable(hccnConfPath())
	if err != nil {
		fmt.Fprintf(os.Stderr, "npu-smi: dcmi module initialize failed (cannot read %s): %v\n", hccnConfPath(), err)
		return 1
	}
	ids := make([]int, 0, len(devs))
	for id := range devs {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	if len(args) > 1 && args[1] == "-l" {
		fmt.Printf("\tTotal Count                    : %d\n\n", len(ids))
		for _, id := range ids {
			fmt.Printf("\tNPU ID                         : %d\n\tProduct Name                   : Ascend910\n\n", id)
		}
		return 0
	}
	line := "+---------------------------+---------------+----------------------------------------------------+"
	fmt.Println("+------------------------------------------------------------------------------------------------+")
	fmt.Println("| npu-smi 24.1.0 (simulated)       Version: 24.1.0                                               |")
	fmt.Println(line)
	fmt.Println("| NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|")
	fmt.Println("| Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |")
	fmt.Println("+===========================+===============+====================================================+")
	for _, id := range ids {
		fmt.Printf("| %-5d %-19s | %-13s | %-11s %-17s %-21s|\n", id, "910C", "OK", "180.0", "40", "0    / 0")
		fmt.Printf("| %-25d | %-13s | %-11s %-17s %-21s|\n", 0, fmt.Sprintf("0000:%02X:00.0", 0xC1+id), "0", "0    / 0", "3400 / 65536")
		fmt.Println("+===========================+===============+====================================================+")
	}
	fmt.Println("| NPU     Chip              | Process id    | Process name             | Process memory(MB)      |")
	fmt.Println("+===========================+===============+====================================================+")
	fmt.Println("| No running processes found in NPU                                                              |")
	fmt.Println("+===========================+===============+====================================================+")
	return 0
}
