package httpx

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestGateConcurrency(t *testing.T) {
	g := NewGate(0, 0, 1)
	release, err := g.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := g.Acquire(ctx)
		errc <- err
	}()
	cancel()
	err = <-errc
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire on a full gate after cancel = %v, want context.Canceled", err)
	}
	if reason, _ := Classify(0, err); reason != ReasonCanceled {
		t.Errorf("reason %q, want canceled", reason)
	}
	release()
	release() // a second call is harmless
	r2, err := g.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire after release: %v", err)
	}
	r2()
}

func TestGateRate(t *testing.T) {
	g := NewGate(0.001, 1, 0) // one call, then one every 1000 s
	r, err := g.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = g.Acquire(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire past the rate with a deadline = %v, want context.DeadlineExceeded", err)
	}
	if reason, retry := Classify(0, err); reason != ReasonTimeout || !retry {
		t.Errorf("Classify = %q, %v; want timeout, true", reason, retry)
	}

	ctx, cancel = context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := g.Acquire(ctx)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire past the rate after cancel = %v, want context.Canceled", err)
	}
}

func TestGatesPerKey(t *testing.T) {
	g := NewGates(0.001, 1, 2)
	r, err := g.Acquire(context.Background(), "a.example")
	if err != nil {
		t.Fatal(err)
	}
	r()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := g.Acquire(ctx, "a.example"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second call to a.example = %v, want context.DeadlineExceeded", err)
	}
	r, err = g.Acquire(ctx, "b.example")
	if err != nil {
		t.Fatalf("b.example blocked by a.example's rate: %v", err)
	}
	r()
}

func TestGatesConcurrency(t *testing.T) {
	g := NewGates(0, 0, 1)
	r, err := g.Acquire(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Acquire(ctx, "b"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire with every slot taken = %v, want context.Canceled", err)
	}
	r()
	r, err = g.Acquire(context.Background(), "b")
	if err != nil {
		t.Fatal(err)
	}
	r()
}
