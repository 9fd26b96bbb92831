package lifecycle

import (
	"context"
	"errors"
	"sync"

	"golang.org/x/sync/errgroup"
)

// Component runs until ctx is cancelled, then stops and returns. It returns
// early only to fail: an error stops the daemon's other components too.
type Component func(ctx context.Context) error

// Stage is a set of components stopped together.
type Stage []Component

// ErrStopped is the cause of a stage's context when the stage is stopped
// because the parent context is done or another component failed.
var ErrStopped = errors.New("lifecycle: stopping")

// Run runs the stages' components until ctx is done or one of them fails,
// then stops the stages in order, each fully before the next, and returns
// the first error a component returned (nil when all stopped cleanly).
// A component that returns nil before it is stopped just ends; the others
// go on.
func Run(ctx context.Context, stages ...Stage) error {
	g, gctx := errgroup.WithContext(ctx)
	stop := make([]context.CancelCauseFunc, len(stages))
	stopped := make([]chan struct{}, len(stages))
	for i, st := range stages {
		// A stage's context is not a child of ctx: it is cancelled only
		// when its turn comes.
		sctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
		stop[i], stopped[i] = cancel, make(chan struct{})
		var wg sync.WaitGroup
		for _, c := range st {
			wg.Add(1)
			g.Go(func() error {
				defer wg.Done()
				return c(sctx)
			})
		}
		go func() {
			wg.Wait()
			close(stopped[i])
		}()
	}
	allStopped := make(chan struct{})
	go func() {
		select {
		case <-gctx.Done():
		case <-allDone(stopped):
		}
		for i := range stages {
			stop[i](ErrStopped)
			<-stopped[i]
		}
		close(allStopped)
	}()
	err := g.Wait()
	<-allStopped
	return err
}

// allDone closes when every channel in cs is closed.
func allDone(cs []chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for _, c := range cs {
			<-c
		}
		close(done)
	}()
	return done
}
