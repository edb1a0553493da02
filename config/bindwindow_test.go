package config

import (
	"strings"
	"testing"
	"time"
)

// TestBindWindow: bind_window defaults to 1h and must be a positive
// duration of at most 24h.
func TestBindWindow(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    time.Duration
		wantErr string
	}{
		{name: "default", want: time.Hour},
		{name: "set", yaml: "bind_window: 15m", want: 15 * time.Minute},
		{name: "not a duration", yaml: "bind_window: soon", wantErr: `"soon" is not a duration`},
		{name: "negative", yaml: "bind_window: -1m", wantErr: "bind_window: must be positive"},
		{name: "too long", yaml: "bind_window: 48h", wantErr: "bind_window: 48h0m0s is too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(minimalYAML+tt.yaml+"\n"), t.TempDir())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.BindWindow.D() != tt.want {
				t.Errorf("bind_window = %s, want %s", c.BindWindow.D(), tt.want)
			}
		})
	}
}
