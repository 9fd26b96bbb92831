package dispatch

import (
	"testing"
	"time"
)

// TestBatchTargetFollowsURLTime checks batches shrink when an assistant's
// URLs are slow and grow back to batch_size when they are fast again.
func TestBatchTargetFollowsURLTime(t *testing.T) {
	s := batchSizer{size: 16, duration: time.Second}
	const noFree = 0 // every slot busy: no spreading
	if got := s.target(1000, noFree); got != 16 {
		t.Fatalf("before any batch: target %d, want batch_size 16", got)
	}
	s.observe(8*time.Second, 16) // 0.5 s per URL
	if got := s.target(1000, noFree); got != 2 {
		t.Fatalf("at 0.5 s per URL: target %d, want 2 (1 s batches)", got)
	}
	s.observe(10*time.Second, 2) // one very slow batch (a timeout)
	if got := s.target(1000, noFree); got != 1 {
		t.Fatalf("after a 5 s-per-URL batch: target %d, want 1", got)
	}
	for range 200 {
		s.observe(160*time.Millisecond, 16) // 10 ms per URL
	}
	if got := s.target(1000, noFree); got != 16 {
		t.Fatalf("after fast batches: target %d, want 16 (capped at batch_size)", got)
	}
}

func TestBatchTargetDisabled(t *testing.T) {
	s := batchSizer{size: 16}
	s.observe(16*time.Second, 16)
	if got := s.target(1000, 0); got != 16 {
		t.Fatalf("batch_duration 0: target %d, want 16", got)
	}
}

// TestBatchTargetSpreadsScarceWork checks a small claim is spread over the
// free slots, whatever the URL time.
func TestBatchTargetSpreadsScarceWork(t *testing.T) {
	s := batchSizer{size: 16, duration: time.Second}
	if got := s.target(8, 4); got != 2 {
		t.Fatalf("8 URLs over 4 free slots: target %d, want 2", got)
	}
	s.observe(16*time.Millisecond, 16)
	if got := s.target(4, 4); got != 1 {
		t.Fatalf("4 URLs over 4 free slots: target %d, want 1", got)
	}
}

func TestObserveURLTimeIgnoresEmptyBatches(t *testing.T) {
	s := batchSizer{size: 16, duration: time.Second}
	s.observe(time.Second, 0)
	s.observe(0, 5)
	if s.urlSecs != 0 {
		t.Fatalf("urlSecs = %v after empty observations, want 0", s.urlSecs)
	}
}

// TestResetForgetsURLTime checks that an assistant given up on starts
// with full batches when it returns, not with its old URL time.
func TestResetForgetsURLTime(t *testing.T) {
	s := batchSizer{size: 16, duration: time.Second}
	s.observe(8*time.Second, 2) // 4 s per URL: batches of 1
	if got := s.target(100, 0); got != 1 {
		t.Fatalf("at 4 s per URL: target %d, want 1", got)
	}
	s.reset()
	if got := s.target(100, 0); got != 16 {
		t.Fatalf("after reset: target %d, want batch_size 16", got)
	}
}

// TestClaimSize checks that a claim idle slots wait on is small, that
// other claims top the ready queue up in one go, up to the cap, and that
// nothing is claimed while three quarters of the target are ready.
func TestClaimSize(t *testing.T) {
	cases := []struct {
		name string
		need claimNeed
		want int
	}{
		// 100 idle slots, nothing ready: the target is (100+50)*16 = 2400.
		{"idle slots, nothing ready", claimNeed{slots: 100, free: 100, idle: 100, batchSize: 16}, firstClaim},
		{"idle slots, the target is small", claimNeed{slots: 4, free: 4, idle: 4, batchSize: 16, prefetch: 2}, 96},
		{"work ready: no wait on the claim", claimNeed{slots: 100, free: 100, idle: 100, ready: 300, batchSize: 16}, 2100},
		{"many idle slots: two URLs each", claimNeed{slots: 1000, free: 1000, idle: 1000, batchSize: 16}, 2000},
		{"every slot busy: up to the cap", claimNeed{slots: 1000, free: 0, idle: 0, batchSize: 16}, maxClaim},
		{"over three quarters ready: not yet", claimNeed{slots: 100, free: 0, idle: 0, ready: 650, batchSize: 16}, 0},
		{"a quarter missing: claim it", claimNeed{slots: 100, free: 0, idle: 0, ready: 600, batchSize: 16, prefetch: 50}, 200},
		{"less than a batch missing: not yet", claimNeed{slots: 2, free: 0, idle: 0, ready: 10, batchSize: 16}, 0},
	}
	for _, c := range cases {
		if got := claimSize(c.need); got != c.want {
			t.Errorf("%s: claimSize(%+v) = %d, want %d", c.name, c.need, got, c.want)
		}
	}
}
