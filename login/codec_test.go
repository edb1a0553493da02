package login

import (
	"bytes"
	"maps"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

// TestSessionCodec: a session round-trips with its deadline and typed
// values; a session stored by scs's gob codec (before an upgrade) still
// decodes; corrupt data is an error, never a panic or a partial session;
// a value of another type is refused when written.
func TestSessionCodec(t *testing.T) {
	deadline := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
	values := map[string]any{sessCustomer: "cust-1", sessAuthAt: int64(1764583200123456789), sessSeen: int64(-5),
		sessConsole + "cn": "https://console.huaweicloud.com/?region=cn-north-4", "empty": ""}
	c := sessionCodec{}
	b, err := c.Encode(deadline, values)
	if err != nil {
		t.Fatal(err)
	}
	gotDeadline, got, err := c.Decode(b)
	if err != nil || !gotDeadline.Equal(deadline) || !maps.Equal(got, values) {
		t.Fatalf("round trip: %v %v %v", gotDeadline, got, err)
	}

	old, err := scs.GobCodec{}.Encode(deadline, values)
	if err != nil {
		t.Fatal(err)
	}
	if gotDeadline, got, err := c.Decode(old); err != nil || !gotDeadline.Equal(deadline) || !maps.Equal(got, values) {
		t.Fatalf("a gob session: %v %v %v", gotDeadline, got, err)
	}

	for i := len(sessionMagic); i < len(b); i++ {
		if _, _, err := c.Decode(b[:i]); err == nil {
			t.Errorf("truncated to %d bytes: decoded", i)
		}
	}
	if _, _, err := c.Decode(append(b, 0)); err == nil {
		t.Error("trailing byte: decoded")
	}
	if _, err := c.Encode(deadline, map[string]any{"x": 1.5}); err == nil {
		t.Error("a float64 value was written")
	}
}

func FuzzSessionCodecDecode(f *testing.F) {
	b, _ := sessionCodec{}.Encode(time.Now(), map[string]any{"customer": "c", "seen": int64(1)})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		deadline, values, err := sessionCodec{}.Decode(b)
		if err != nil || !bytes.HasPrefix(b, []byte(sessionMagic)) {
			return // refused, or a gob session: scs's to read
		}
		again, err := sessionCodec{}.Encode(deadline, values)
		if err != nil {
			return // a gob session holding another type
		}
		if d2, v2, err := (sessionCodec{}).Decode(again); err != nil || !d2.Equal(deadline) || !maps.Equal(v2, values) {
			t.Fatalf("re-encoded session differs: %v", err)
		}
	})
}
