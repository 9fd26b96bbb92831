package lifecycle

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// recorder logs when components stop, in order.
type recorder struct {
	mu  sync.Mutex
	log []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.log = append(r.log, s)
	r.mu.Unlock()
}

// worker runs until stopped, then takes d to stop and records it.
func (r *recorder) worker(name string, d time.Duration) Component {
	return func(ctx context.Context) error {
		<-ctx.Done()
		time.Sleep(d)
		r.add(name)
		return nil
	}
}

func TestStagesStopInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r recorder
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() {
			done <- Run(ctx,
				Stage{r.worker("dispatcher", 3*time.Second), r.worker("renewer", time.Second)},
				Stage{r.worker("rescuer", 0)},
				Stage{r.worker("writer", time.Second)})
		}()
		time.Sleep(time.Minute)
		synctest.Wait()
		if len(r.log) != 0 {
			t.Fatalf("stopped before the context was done: %v", r.log)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v", err)
		}
		// The writer stops last although it is quicker than the dispatcher.
		if want := []string{"renewer", "dispatcher", "rescuer", "writer"}; !slices.Equal(r.log, want) {
			t.Fatalf("stopped in order %v, want %v", r.log, want)
		}
	})
}

func TestAFailureStopsEverythingInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r recorder
		boom := errors.New("lost leadership")
		err := Run(t.Context(),
			Stage{r.worker("dispatcher", time.Second)},
			Stage{func(ctx context.Context) error {
				time.Sleep(10 * time.Second)
				r.add("watcher failed")
				return boom
			}},
			Stage{r.worker("writer", 0)})
		if !errors.Is(err, boom) {
			t.Fatalf("Run = %v, want the watcher's error", err)
		}
		if want := []string{"watcher failed", "dispatcher", "writer"}; !slices.Equal(r.log, want) {
			t.Fatalf("order %v, want %v", r.log, want)
		}
	})
}

func TestComponentsThatEndOnTheirOwn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ran atomic.Int32
		end := func(context.Context) error { ran.Add(1); return nil }
		err := Run(t.Context(), Stage{end}, Stage{end})
		if err != nil || ran.Load() != 2 {
			t.Fatalf("Run = %v after %d components, want nil after 2 (Run returns when all have ended)", err, ran.Load())
		}
	})
}

func TestStageContextCauseSaysStopping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		var cause error
		go func() {
			time.Sleep(time.Second)
			cancel()
		}()
		_ = Run(ctx, Stage{func(ctx context.Context) error {
			<-ctx.Done()
			cause = context.Cause(ctx)
			return nil
		}})
		if !errors.Is(cause, ErrStopped) {
			t.Fatalf("cause %v, want ErrStopped", cause)
		}
	})
}
