package store_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crawlmaster/crawlmaster/master/store"
)

// Regression: stored bodies are lz4-compressed (the staging column decides,
// since INSERT … SELECT copies a compressed datum as it is).
func TestBodiesAreLZ4(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	insert(t, s, mkURLs("lz4", 1))
	tasks := claim(t, s, 1, time.Minute)
	o := outcome(tasks[0], store.StateDone)
	o.Body = []byte(strings.Repeat("<p>The quick brown fox jumps over the lazy dog.</p>\n", 400))
	if acc := persist(t, s, o); acc.Total() != 1 {
		t.Fatalf("accepted %v", acc)
	}
	var comp *string
	if err := pool.QueryRow(t.Context(), `SELECT pg_column_compression(body) FROM bodies WHERE lease_token = $1`, o.Token).Scan(&comp); err != nil {
		t.Fatal(err)
	}
	if comp == nil || *comp != "lz4" {
		t.Fatalf("pg_column_compression(body) = %v, want lz4", comp)
	}
}

// Regression: concurrent claims never lease two URLs of one domain.
func TestConcurrentClaimsNeverLeaseADomainTwice(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	var urls []store.NewURL
	for d := range 200 {
		dom := fmt.Sprintf("d%d.example", d)
		for i := range 2 {
			urls = append(urls, store.NewURL{URL: fmt.Sprintf("https://%s/%d", dom, i), Host: dom, Domain: dom, Priority: int32(d)})
		}
	}
	insert(t, s, urls)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				tasks, err := s.Claim(t.Context(), store.ClaimParams{Shards: allShards, Limit: 1, Lease: time.Minute})
				if err != nil {
					t.Error(err)
					return
				}
				if len(tasks) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	if n := count(t, pool, `SELECT count(*) FROM (SELECT domain FROM frontier WHERE state = 'leased' GROUP BY domain HAVING count(*) > 1) x`); n != 0 {
		t.Fatalf("%d of 200 domains have two URLs leased", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM frontier WHERE state = 'leased'`); n != 200 {
		t.Fatalf("%d URLs leased, want one per domain (200)", n)
	}
}
