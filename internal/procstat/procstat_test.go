package procstat

import (
	"os"
	"runtime"
	"testing"
)

func TestSelf(t *testing.T) {
	// Touch memory and burn CPU so both readings must be positive.
	buf := make([]byte, 8<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	if rss := PeakRSS(0); rss < 8<<20 {
		t.Fatalf("PeakRSS(self) = %d, want at least the 8 MiB just touched", rss)
	}
	if PeakRSS(os.Getpid()) < 8<<20 {
		t.Fatal("PeakRSS(own pid) below 8 MiB")
	}
	x := 0
	for i := 0; CPU(os.Getpid(), false) == 0 && i < 1e9; i++ {
		x += i
	}
	if CPU(os.Getpid(), false) <= 0 || CPU(os.Getpid(), true) < CPU(os.Getpid(), false) {
		t.Fatalf("CPU readings: own %v, with children %v", CPU(os.Getpid(), false), CPU(os.Getpid(), true))
	}
	if PeakRSS(1<<30) != 0 || CPU(1<<30, true) != 0 {
		t.Fatal("a missing process reads as nonzero")
	}
	_ = x
}

// SampleHeap sees a large allocation still held when it stops.
func TestSampleHeap(t *testing.T) {
	stop := SampleHeap()
	held := make([]byte, 64<<20)
	for i := range held {
		held[i] = 1
	}
	base, peak := stop()
	runtime.KeepAlive(held)
	if peak-base < 60<<20 {
		t.Errorf("heap from %d to peak %d: want at least 60 MiB more while 64 MiB were held", base, peak)
	}
}
