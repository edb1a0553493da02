package migrate

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name     string
		files    fstest.MapFS
		versions []int
		wantErr  string
	}{
		{
			name: "ordered by version",
			files: fstest.MapFS{
				"m/0010_later.sql": {Data: []byte("B")},
				"m/0002_next.sql":  {Data: []byte("A")},
				"m/0001_init.sql":  {Data: []byte("I")},
				"m/README.md":      {Data: []byte("ignored")},
			},
			versions: []int{1, 2, 10},
		},
		{
			name:    "duplicate version",
			files:   fstest.MapFS{"m/0001_a.sql": {}, "m/001_b.sql": {}},
			wantErr: "same version 1",
		},
		{
			name:    "no prefix",
			files:   fstest.MapFS{"m/init.sql": {}},
			wantErr: "name must look like",
		},
		{
			name:    "zero version",
			files:   fstest.MapFS{"m/0000_init.sql": {}},
			wantErr: "positive version",
		},
		{
			name:    "empty",
			files:   fstest.MapFS{"m/x.txt": {}},
			wantErr: "no migrations",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := Load(tt.files, "m")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load() error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load(): %v", err)
			}
			var got []int
			for _, m := range ms {
				got = append(got, m.Version)
			}
			if len(got) != len(tt.versions) {
				t.Fatalf("versions = %v, want %v", got, tt.versions)
			}
			for i := range got {
				if got[i] != tt.versions[i] {
					t.Fatalf("versions = %v, want %v", got, tt.versions)
				}
			}
			if ms[0].SQL != "I" || ms[0].Name != "0001_init.sql" {
				t.Errorf("first migration = %+v", ms[0])
			}
		})
	}
}
