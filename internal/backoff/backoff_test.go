package backoff

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func TestBackoffDoublesToMax(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Max: time.Second}
	var got []time.Duration
	for range 6 {
		got = append(got, b.Next())
	}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("delays %v, want %v ms", got, want)
		}
	}
	b.Reset()
	if d := b.Next(); d != 100*time.Millisecond {
		t.Fatalf("after Reset: %v, want 100ms", d)
	}
}

func TestJitterStaysInBounds(t *testing.T) {
	b := Backoff{Base: time.Second, Max: time.Second, Jitter: 0.2}
	lo, hi := time.Hour, time.Duration(0)
	for range 2000 {
		d := b.Next()
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 800*time.Millisecond || hi > 1200*time.Millisecond {
		t.Fatalf("jittered delays in [%v, %v], want within [800ms, 1.2s]", lo, hi)
	}
	if hi-lo < 300*time.Millisecond {
		t.Fatalf("jittered delays in [%v, %v]: not spread", lo, hi)
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		if err := Sleep(t.Context(), time.Minute); err != nil {
			t.Fatalf("Sleep: %v", err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now()
		go func() {
			time.Sleep(time.Second)
			cancel()
		}()
		if err := Sleep(ctx, time.Hour); err != context.Canceled {
			t.Fatalf("Sleep after cancel: %v, want context.Canceled", err)
		}
		if waited := time.Since(start); waited != time.Second {
			t.Fatalf("Sleep returned after %v, want 1s (when cancelled)", waited)
		}
	})
}
