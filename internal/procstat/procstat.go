package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// PeakRSS returns the peak resident set size (VmHWM) of process pid in
// bytes, or 0 if the process is gone. pid 0 means this process.
func PeakRSS(pid int) int64 {
	path := "/proc/self/status"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// clockTicks is Linux's USER_HZ, the unit of /proc/PID/stat times.
const clockTicks = 100

// CPU returns the user+system CPU time of process pid; with children set,
// also that of its children it has reaped. 0 if the process is gone.
func CPU(pid int, children bool) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	// The command name may contain spaces: fields start after ") ", where
	// utime is the 12th (index 11) and cstime the 15th.
	i := strings.LastIndex(s, ") ")
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 15 {
		return 0
	}
	last := 12
	if children {
		last = 14
	}
	var ticks int64
	for _, v := range f[11 : last+1] {
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks
}
