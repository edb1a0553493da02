package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// TestLogFormat: log_format auto writes human-readable text (in colour) to
// a terminal and JSON elsewhere; json and text force one or the other, and
// text has colours only on a terminal.
func TestLogFormat(t *testing.T) {
	for _, tc := range []struct {
		format   string
		terminal bool
		json     bool
		colour   bool
	}{
		{"auto", false, true, false},
		{"auto", true, false, true},
		{"json", true, true, false},
		{"json", false, true, false},
		{"text", false, false, false},
		{"text", true, false, true},
	} {
		var buf bytes.Buffer
		log := slog.New(logHandler(&buf, "info", tc.format, tc.terminal))
		log.Debug("hidden")
		log.Info("reload failed", "err", "service_providers[0]: expired", "site", "cn")
		line := buf.String()
		var m map[string]any
		isJSON := json.Unmarshal([]byte(line), &m) == nil
		if isJSON != tc.json || strings.Contains(line, "\x1b[") != tc.colour {
			t.Errorf("format %s, terminal %v: %q (JSON %v, colour %v)", tc.format, tc.terminal, line, isJSON, strings.Contains(line, "\x1b["))
		}
		if strings.Contains(line, "hidden") || !strings.Contains(line, "reload failed") || !strings.Contains(line, "site") {
			t.Errorf("format %s: %q", tc.format, line)
		}
	}
}
