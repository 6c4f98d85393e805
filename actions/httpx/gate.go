package httpx

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/time/rate"
)

// Gate bounds the calls to one target: a token-bucket rate and a cap on
// calls in flight. It is safe for concurrent use.
type Gate struct {
	lim *rate.Limiter
	sem chan struct{}
}

// NewGate returns a gate of perSecond calls a second with burst, and at
// most concurrency calls in flight. perSecond <= 0 means no rate limit;
// burst < 1 is 1; concurrency < 1 means no cap.
func NewGate(perSecond float64, burst, concurrency int) *Gate {
	g := &Gate{}
	if perSecond > 0 {
		if burst < 1 {
			burst = 1
		}
		g.lim = rate.NewLimiter(rate.Limit(perSecond), burst)
	}
	if concurrency > 0 {
		g.sem = make(chan struct{}, concurrency)
	}
	return g
}

// Acquire waits for a free slot and then for the rate, honouring ctx, and
// returns the function that frees the slot. On failure it returns an
// error that wraps ctx's error (context.Canceled or
// context.DeadlineExceeded, also when the rate's wait could not end
// before the deadline), so Classify reads it as "canceled" or "timeout".
func (g *Gate) Acquire(ctx context.Context) (release func(), err error) {
	if g.sem != nil {
		select {
		case g.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for a free slot: %w", ctx.Err())
		}
	}
	free := func() {
		if g.sem != nil {
			<-g.sem
		}
	}
	if g.lim != nil {
		if err := g.lim.Wait(ctx); err != nil {
			free()
			if ctx.Err() != nil {
				return nil, fmt.Errorf("waiting for the rate limit: %w", ctx.Err())
			}
			// The limiter saw that the wait would outlast the deadline.
			return nil, fmt.Errorf("waiting for the rate limit: %w", context.DeadlineExceeded)
		}
	}
	var once sync.Once
	return func() { once.Do(free) }, nil
}

// Gates hands out one rate limiter per key (a target host, a Slack
// channel) while sharing one cap on calls in flight. Keys are never
// forgotten, so use it for keys that come from the rules file or a
// connection, not from event data. It is safe for concurrent use.
type Gates struct {
	perSecond float64
	burst     int
	sem       chan struct{}

	mu   sync.Mutex
	lims map[string]*rate.Limiter
}

// NewGates returns per-key gates of perSecond with burst for each key and
// at most concurrency calls in flight over all keys. The values mean what
// they mean for NewGate.
func NewGates(perSecond float64, burst, concurrency int) *Gates {
	if burst < 1 {
		burst = 1
	}
	g := &Gates{perSecond: perSecond, burst: burst, lims: map[string]*rate.Limiter{}}
	if concurrency > 0 {
		g.sem = make(chan struct{}, concurrency)
	}
	return g
}

func (g *Gates) limiter(key string) *rate.Limiter {
	if g.perSecond <= 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	lim, ok := g.lims[key]
	if !ok {
		lim = rate.NewLimiter(rate.Limit(g.perSecond), g.burst)
		g.lims[key] = lim
	}
	return lim
}

// Acquire waits for key's rate and then for a free slot, as
// Gate.Acquire does. Waiting for the rate first keeps a slow key from
// holding slots the other keys could use.
func (g *Gates) Acquire(ctx context.Context, key string) (release func(), err error) {
	if lim := g.limiter(key); lim != nil {
		if err := lim.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("waiting for the rate limit: %w", ctx.Err())
			}
			return nil, fmt.Errorf("waiting for the rate limit: %w", context.DeadlineExceeded)
		}
	}
	if g.sem == nil {
		return func() {}, nil
	}
	select {
	case g.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a free slot: %w", ctx.Err())
	}
	var once sync.Once
	return func() { once.Do(func() { <-g.sem }) }, nil
}
