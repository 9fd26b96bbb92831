package dispatch

import "time"

// urlTimeWeight is the weight of one completed batch in the average time
// per URL: the average follows a change of sites within a few dozen
// batches.
const urlTimeWeight = 0.05

// batchSizer sizes an assistant's batches so that one takes about
// batch_duration at that assistant's recent time per URL. The time
// measured is a batch's wall time on its slot, politeness waits and result
// back-pressure included: a domain's URLs spaced by a crawl delay, or a
// database falling behind, give smaller batches too (more Crawl calls,
// each still holding whole domains), which costs little when the slots
// are waiting anyway. It does no I/O.
type batchSizer struct {
	size     int           // dispatch.batch_size: the most URLs in a batch
	duration time.Duration // dispatch.batch_duration; 0: always size
	urlSecs  float64       // moving average of seconds per URL; 0: none yet
}

// observe folds a completed batch of urls URLs that took d into the
// average. Empty or instantaneous batches say nothing and are ignored.
func (s *batchSizer) observe(d time.Duration, urls int) {
	if urls <= 0 || d <= 0 {
		return
	}
	x := d.Seconds() / float64(urls)
	if s.urlSecs == 0 {
		s.urlSecs = x
		return
	}
	s.urlSecs += urlTimeWeight * (x - s.urlSecs)
}

// reset forgets the average: whatever comes back after an assistant was
// given up (a restart, another machine) is measured afresh.
func (s *batchSizer) reset() { s.urlSecs = 0 }

// target is the number of URLs to put in each batch formed from n claimed
// URLs, given free slots that can take one of those batches. It is the
// size that takes about duration at the recent time per URL (at most
// size), and smaller still when work is scarce (the end of a crawl, a
// trickle of retries): the n URLs are then spread over the free slots.
// Either way a few slow URLs never queue behind each other on one slot
// while other slots idle.
func (s *batchSizer) target(n, free int) int {
	size := s.size
	if s.duration > 0 && s.urlSecs > 0 {
		size = min(size, max(1, int(s.duration.Seconds()/s.urlSecs)))
	}
	if free <= 0 {
		return size
	}
	return min(size, max(1, (n+free-1)/free))
}
