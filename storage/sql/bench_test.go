package sqlstore

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"hcidp/storage"
)

// The two operations of every SSO: the write transaction that records the
// Response (RecordResponse) and the session read (FindCtx).

func responseEvent(i int) (*storage.RequestID, storage.AuditEvent) {
	now := time.Now()
	id := "id-" + strconv.Itoa(i)
	return &storage.RequestID{Issuer: "https://auth.example.com/", ID: id, Expires: now.Add(10 * time.Minute)},
		storage.AuditEvent{Time: now, Kind: "response", XAccountID: "acc-1", Site: "cn", RequestID: id,
			AssertionID: "_a" + id, ClientAddr: "192.0.2.1", Outcome: "issued", Detail: "service=console"}
}

func BenchmarkRecordResponse(b *testing.B) {
	for _, dl := range dialects {
		b.Run(dl.name, func(b *testing.B) {
			d := openTest(b, dl, dl.fresh(b), Options{})
			i := 0
			for b.Loop() {
				i++
				req, audit := responseEvent(i)
				if err := d.RecordResponse(b.Context(), req, audit); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFindCtx(b *testing.B) {
	for _, dl := range dialects {
		b.Run(dl.name, func(b *testing.B) {
			d := openTest(b, dl, dl.fresh(b), Options{})
			if err := d.CommitCtx(b.Context(), "tok", make([]byte, 300), time.Now().Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, found, err := d.FindCtx(b.Context(), "tok"); err != nil || !found {
					b.Fatal(found, err)
				}
			}
		})
	}
}

// BenchmarkPostgresPgxpool runs the same statements straight through
// pgxpool, pgx's native pool, for comparison with the postgres cases of
// the benchmarks above (the choice of database/sql, in the package doc).
func BenchmarkPostgresPgxpool(b *testing.B) {
	dsn := freshSchema(b)
	d := openTest(b, dialects[1], dsn, Options{}) // creates the tables
	pool, err := pgxpool.New(b.Context(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	insertReq, insertAud := numberPlaceholders(insertRequestID), numberPlaceholders(insertAudit)
	b.Run("RecordResponse", func(b *testing.B) {
		ctx := b.Context()
		i := 0
		for b.Loop() {
			i++
			req, audit := responseEvent(i)
			err := func() error {
				tx, err := pool.Begin(ctx)
				if err != nil {
					return err
				}
				defer tx.Rollback(ctx)
				if _, err := tx.Exec(ctx, insertReq, req.Issuer, req.ID, d.t(req.Expires), d.t(audit.Time)); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, insertAud, d.auditArgs(audit)...); err != nil {
					return err
				}
				return tx.Commit(ctx)
			}()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("FindCtx", func(b *testing.B) {
		ctx := context.Background()
		if err := d.CommitCtx(ctx, "tok", make([]byte, 300), time.Now().Add(time.Hour)); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			var data []byte
			if err := pool.QueryRow(ctx, `SELECT data FROM sessions WHERE token = $1 AND expiry > $2`,
				"tok", d.t(time.Now())).Scan(&data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
