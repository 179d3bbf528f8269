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
