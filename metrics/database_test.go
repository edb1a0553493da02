package metrics

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestDatabaseUpFollowsThePingAtEachScrape(t *testing.T) {
	reg := prometheus.NewRegistry()
	var pingErr error
	var hadDeadline bool
	RegisterDatabaseUp(reg, func(ctx context.Context) error {
		_, hadDeadline = ctx.Deadline()
		return pingErr
	})
	value := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "hcidp_database_up" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no hcidp_database_up in the scrape")
		return 0
	}
	for _, tc := range []struct {
		name string
		err  error
		want float64
	}{
		{"database answers", nil, 1},
		{"database down", errors.New("connection refused"), 0},
		{"database back", nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pingErr = tc.err
			if got := value(); got != tc.want {
				t.Errorf("hcidp_database_up = %v, want %v", got, tc.want)
			}
			if !hadDeadline {
				t.Error("the ping has no deadline: a hung database would hang the scrape")
			}
		})
	}
}
