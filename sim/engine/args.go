package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// argparse-like parsing of `vllm serve`: the flags the real CLI has (the ones launch scripts
// use and their common neighbours), `--flag value` and `--flag=value`, underscores accepted
// like vLLM's FlexibleArgumentParser, anything else refused as argparse refuses it.

type argKind int

const (
	argBool argKind = iota
	argString
	argInt
	argFloat
	argJSON
	argMulti // nargs='+'
)

var serveFlags = map[string]argKind{
	"model": argString, "host": argString, "port": argInt, "served-model-name": argMulti,
	"max-model-len": argInt, "tensor-parallel-size": argInt, "pipeline-parallel-size": argInt,
	"data-parallel-size": argInt, "data-parallel-size-local": argInt, "data-parallel-address": argString,
	"data-parallel-rpc-port": argInt, "data-parallel-start-rank": argInt, "data-parallel-backend": argString,
	"kv-transfer-config": argJSON, "additional-config": argJSON, "speculative-config": argJSON,
	"compilation-config": argJSON, "hf-overrides": argJSON, "override-generation-config": argJSON,
	"gpu-memory-utilization": argFloat, "block-size": argInt, "max-num-seqs": argInt,
	"max-num-batched-tokens": argInt, "distributed-executor-backend": argString, "dtype": argString,
	"seed": argInt, "swap-space": argFloat, "quantization": argString, "tokenizer": argString,
	"uvicorn-log-level": argString, "api-key": argString, "max-log-len": argInt, "kv-cache-dtype": argString,
	"tool-call-parser": argString, "chat-template": argString, "task": argString, "generation-config": argString,
	"scheduling-policy": argString, "long-prefill-token-threshold": argInt, "max-seq-len-to-capture": argInt,
	"num-gpu-blocks-override": argInt, "revision": argString, "load-format": argString,
	"trust-remote-code": argBool, "enforce-eager": argBool, "enable-expert-parallel": argBool,
	"disable-log-requests": argBool, "disable-log-stats": argBool, "enable-prefix-caching": argBool,
	"no-enable-prefix-caching": argBool, "enable-chunked-prefill": argBool, "no-enable-chunked-prefill": argBool,
	"enable-auto-tool-choice": argBool, "headless": argBool, "disable-custom-all-reduce": argBool,
	"multi-step-stream-outputs": argBool, "enable-log-requests": argBool, "disable-frontend-multiprocessing": argBool,
}

// Options whose values argparse checks against a fixed list (vLLM 0.9's Literal types).
var choices = map[string][]string{
	"block-size":                   {"1", "8", "16", "32", "64", "128"},
	"distributed-executor-backend": {"ray", "mp", "uni", "external_launcher"},
	"dtype":                        {"auto", "half", "float16", "bfloat16", "float", "float32"},
	"kv-cache-dtype":               {"auto", "fp8", "fp8_e4m3", "fp8_e5m2"},
	"load-format":                  {"auto", "pt", "safetensors", "npcache", "dummy", "tensorizer", "sharded_state", "gguf", "bitsandbytes", "mistral", "runai_streamer", "fastsafetensors"},
	"scheduling-policy":            {"fcfs", "priority"},
	"data-parallel-backend":        {"mp", "ray"},
}

// JSON options vLLM turns into a config dataclass: the keys that dataclass has.
var configFields = map[string]struct {
	class string
	keys  []string
}{
	"kv-transfer-config": {"KVTransferConfig", []string{"kv_connector", "engine_id", "kv_buffer_device", "kv_buffer_size",
		"kv_role", "kv_rank", "kv_parallel_size", "kv_ip", "kv_port", "kv_connector_extra_config", "kv_connector_module_path"}},
	"speculative-config": {"SpeculativeConfig", []string{"method", "model", "num_speculative_tokens", "quantization",
		"max_model_len", "draft_tensor_parallel_size", "disable_by_batch_size", "prompt_lookup_max", "prompt_lookup_min",
		"revision", "code_revision", "speculative_token_tree", "disable_logprobs", "disable_log_stats", "acceptance_method"}},
}

func quotedList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = "'" + x + "'"
	}
	return strings.Join(q, ", ")
}

var shortFlags = map[string]string{
	"-tp": "tensor-parallel-size", "-pp": "pipeline-parallel-size", "-dp": "data-parallel-size",
	"-dpl": "data-parallel-size-local", "-dpa": "data-parallel-address", "-dpp": "data-parallel-rpc-port",
	"-q": "quantization", "-O": "compilation-config",
}

type serveArgs struct {
	Model string
	Str   map[string]string
	Int   map[string]int
	Float map[string]float64
	JSON  map[string]map[string]any
	Bool  map[string]bool
	Multi map[string][]string
	Raw   []string
}

type argError struct{ msg string }

func (e argError) Error() string { return e.msg }

const serveUsage = "usage: vllm serve [model_tag] [options]"

func parseServeArgs(argv []string) (*serveArgs, error) {
	a := &serveArgs{Str: map[string]string{}, Int: map[string]int{}, Float: map[string]float64{},
		JSON: map[string]map[string]any{}, Bool: map[string]bool{}, Multi: map[string][]string{}, Raw: argv}
	var unknown, positional []string
	for i := 0; i < len(argv); i++ {
		tok := argv[i]
		if !strings.HasPrefix(tok, "-") || tok == "-" {
			positional = append(positional, tok)
			continue
		}
		var name, value string
		hasValue := false
		if long, ok := shortFlags[tok]; ok {
			name = long
		} else if strings.HasPrefix(tok, "--") {
			body := strings.TrimPrefix(tok, "--")
			if k, v, ok := strings.Cut(body, "="); ok {
				body, value, hasValue = k, v, true
			}
			name = strings.ReplaceAll(body, "_", "-")
		} else {
			unknown = append(unknown, tok)
			continue
		}
		kind, known := serveFlags[name]
		if !known {
			unknown = append(unknown, tok)
			// argparse keeps the following value out of the positionals only if it is a flag value;
			// it cannot know, so neither do we: a bare value after an unknown flag is also unknown.
			if !hasValue && i+1 < len(argv) && !strings.HasPrefix(argv[i+1], "-") {
				unknown = append(unknown, argv[i+1])
				i++
			}
			continue
		}
		if kind == argBool {
			if hasValue {
				return nil, argError{fmt.Sprintf("argument --%s: ignored explicit argument '%s'", name, value)}
			}
			a.Bool[name] = true
			continue
		}
		if kind == argMulti {
			var vals []string
			if hasValue {
				vals = append(vals, value)
			}
			for i+1 < len(argv) && !strings.HasPrefix(argv[i+1], "-") && !hasValue {
				vals = append(vals, argv[i+1])
				i++
			}
			if len(vals) == 0 {
				return nil, argError{fmt.Sprintf("argument --%s: expected at least one argument", name)}
			}
			a.Multi[name] = vals
			continue
		}
		if !hasValue {
			if i+1 >= len(argv) || (strings.HasPrefix(argv[i+1], "-") && !isNumber(argv[i+1])) {
				return nil, argError{fmt.Sprintf("argument --%s: expected one argument", name)}
			}
			value = argv[i+1]
			i++
		}
		if allowed, ok := choices[name]; ok && !contains(allowed, value) {
			return nil, argError{fmt.Sprintf("argument --%s: invalid choice: '%s' (choose from %s)", name, value, quotedList(allowed))}
		}
		switch kind {
		case argString:
			a.Str[name] = value
		case argInt:
			n, err := strconv.Atoi(value)
			if err != nil {
				return nil, argError{fmt.Sprintf("argument --%s: invalid int value: '%s'", name, value)}
			}
			a.Int[name] = n
		case argFloat:
			f, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return nil, argError{fmt.Sprintf("argument --%s: invalid float value: '%s'", name, value)}
			}
			a.Float[name] = f
		case argJSON:
			var m map[string]any
			if err := json.Unmarshal([]byte(value), &m); err != nil {
				return nil, argError{fmt.Sprintf("argument --%s: invalid loads value: '%s'", name, value)}
			}
			if fields, ok := configFields[name]; ok {
				for k := range m {
					if !contains(fields.keys, k) {
						// vLLM builds the config dataclass from the JSON: an unknown key fails in its
						// __init__, which argparse reports as an invalid value of the option.
						return nil, argError{fmt.Sprintf("argument --%s: invalid %s value: '%s' (%s.__init__() got an unexpected keyword argument '%s')", name, fields.class, value, fields.class, k)}
					}
				}
			}
			a.JSON[name] = m
		}
	}
	if len(positional) > 1 {
		unknown = append(unknown, positional[1:]...)
	}
	if len(unknown) > 0 {
		return nil, argError{"unrecognized arguments: " + strings.Join(unknown, " ")}
	}
	if len(positional) == 1 {
		a.Model = positional[0]
	} else if m, ok := a.Str["model"]; ok {
		a.Model = m
	}
	if a.Model == "" {
		return nil, argError{"the following arguments are required: model_tag"}
	}
	return a, nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

func (a *serveArgs) intOr(name string, def int) int {
	if v, ok := a.Int[name]; ok {
		return v
	}
	return def
}
