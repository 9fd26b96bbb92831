package procstat

import (
	"runtime"
	"sync"
	"time"
)

// SampleHeap samples this process's Go heap in use (HeapInuse, after a
// GC for the first sample) every millisecond until the returned stop is
// called, which samples once more and returns the first sample and the
// highest seen: a test's bound on what one operation holds at once.
func SampleHeap() (stop func() (base, peak uint64)) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	peak := base
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		wg.Wait() // peak is written by the sampler only, read after it ends
		// One last sample: what is held now counts even when the
		// operation took less than a sampling interval.
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return base, max(peak, m.HeapInuse)
	}
}
