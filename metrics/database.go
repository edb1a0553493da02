package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// databasePingTimeout bounds the database check of one scrape, as /readyz
// bounds its own.
const databasePingTimeout = 2 * time.Second

// RegisterDatabaseUp registers hcidp_database_up, evaluated at each scrape:
// 1 when ping (the storage's Ping, the check /readyz makes) answers within
// two seconds, else 0. A replica whose database is unreachable is not ready,
// so alerts on readiness and dashboards read it; like postgres_exporter's
// pg_up, it is measured when asked for rather than sampled in the background.
func RegisterDatabaseUp(reg prometheus.Registerer, ping func(context.Context) error) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hcidp_database_up",
		Help: "1 when the database answers a ping at scrape time (the check /readyz makes), else 0."},
		func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), databasePingTimeout)
			defer cancel()
			if ping(ctx) != nil {
				return 0
			}
			return 1
		}))
}
